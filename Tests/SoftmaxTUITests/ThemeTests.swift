import SoftmaxCore
import Testing

@testable import SoftmaxTUI

/// The light theme on a white background: every coloured cell of every screen at WCAG AA contrast, computed from
/// xterm's palette, and the dark theme's distinctions kept.
@Suite("Themes")
struct ThemeTests {
  /// xterm's default palette (the 16 system colours, the 6×6×6 cube, the grey ramp).
  static func rgb(_ color: TerminalColor, default fallback: (Double, Double, Double)) -> (Double, Double, Double) {
    guard case .indexed(let n) = color else { return fallback }
    let system: [(Double, Double, Double)] = [
      (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
      (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255),
      (255, 255, 255),
    ]
    let i = Int(n)
    if i < 16 { return system[i] }
    if i < 232 {
      let levels: [Double] = [0, 95, 135, 175, 215, 255]
      return (levels[(i - 16) / 36], levels[((i - 16) / 6) % 6], levels[(i - 16) % 6])
    }
    let v = Double(8 + 10 * (i - 232))
    return (v, v, v)
  }

  /// WCAG 2 relative luminance and contrast ratio.
  static func luminance(_ c: (Double, Double, Double)) -> Double {
    func channel(_ v: Double) -> Double {
      let s = v / 255
      return s <= 0.03928 ? s / 12.92 : Double.pow((s + 0.055) / 1.055, 2.4)
    }
    return 0.2126 * channel(c.0) + 0.7152 * channel(c.1) + 0.0722 * channel(c.2)
  }

  static func contrast(_ a: (Double, Double, Double), _ b: (Double, Double, Double)) -> Double {
    let (x, y) = (luminance(a), luminance(b))
    return (Swift.max(x, y) + 0.05) / (Swift.min(x, y) + 0.05)
  }

  static let white = (255.0, 255.0, 255.0)
  static let black = (0.0, 0.0, 0.0)

  /// The foreground and background a cell shows on a light terminal (default black on white; reverse swaps).
  static func shown(_ style: Style) -> (fg: (Double, Double, Double), bg: (Double, Double, Double)) {
    var fg = rgb(style.foreground, default: black)
    var bg = rgb(style.background, default: white)
    if style.attributes.contains(.reverse) { swap(&fg, &bg) }
    return (fg, bg)
  }

  /// Glyphs that are graphics (frames, bars, plots), held to 3:1 (WCAG's non-text contrast); text is held to 4.5:1.
  static func isGraphic(_ s: Unicode.Scalar) -> Bool {
    (0x2500...0x259F).contains(s.value) || (0x2800...0x28FF).contains(s.value) || "|-+#.".unicodeScalars.contains(s)
  }

  static func states() throws -> [AppState] {
    var out: [AppState] = []
    let problems = [
      Problem(logits: [1, 2, 3], target: 0),
      Problem(logits: [1000, 1001, 1002], target: 2),
      Problem(logits: [0, 200], target: 0, precision: .float32),
      Problem(logits: [0, -.infinity, 2, 1e-300], target: 2),
      Problem(logits: [11, 11], target: 0, precision: .float16),
    ]
    for p in problems {
      for screen in Screen.allCases {
        var s = AppState(problem: try p.validated())
        s.screen = screen
        s.selection = 1
        out.append(s)
        if screen == .stability {
          for section in StabilitySection.allCases.dropFirst() {
            s.stabilitySection = section
            out.append(s)
          }
        }
      }
    }
    var help = AppState(problem: try Problem(logits: [1, 2, 3], target: 0).validated())
    help.showHelp = true
    out.append(help)
    return out
  }

  @Test(arguments: [ColorMode.extended, .basic])
  func everyCellOfTheLightThemeReadsOnWhite(mode: ColorMode) throws {
    let ctx = RenderContext(colorMode: mode, unicode: true, theme: .light)
    var cells = 0
    var worst: [String: (Double, String)] = [:]
    for state in try Self.states() {
      var buf = Buffer(width: 0, height: 0)
      Frame.render(state, evaluation: nil, comparison: nil, into: &buf, width: 120, height: 40, context: ctx)
      for y in 0..<buf.height {
        for x in 0..<buf.width {
          let cell = buf[x, y]
          // Blank cells have no glyph to read; dim text depends on the terminal's dimming, not on a colour.
          guard cell.scalar != " ", !cell.style.attributes.contains(.dim) else { continue }
          cells += 1
          if mode == .basic {
            for color in [cell.style.foreground, cell.style.background] {
              if case .indexed(let n) = color { #expect(n < 8, "a 256-colour index in 8-colour mode: \(cell.style)") }
            }
          }
          let (fg, bg) = Self.shown(cell.style)
          let ratio = Self.contrast(fg, bg)
          let need = Self.isGraphic(cell.scalar) ? 3.0 : 4.5
          if ratio < need {
            let key = "\(cell.style.foreground)/\(cell.style.background)"
            if worst[key] == nil || ratio < worst[key]!.0 {
              worst[key] = (ratio, "\(state.screen) row \(y): \(buf.line(y))")
            }
          }
        }
      }
    }
    print("light theme (\(mode)): \(cells) coloured cells checked")
    #expect(cells > 10_000)
    for (key, w) in worst { Issue.record("\(key) contrast \(w.0) below AA, e.g. \(w.1)") }
  }

  /// The dark theme's distinctions are all there in the light one, at AA contrast on white and on the selected row.
  @Test func theLightThemeKeepsEveryDistinction() {
    let ctx = RenderContext(colorMode: .extended, unicode: true, theme: .light)
    let highlight = Self.rgb(ctx.highlightBackground, default: Self.white)
    let text: [(String, Style)] = [
      ("target", ctx.target), ("error", ctx.error), ("good", ctx.good), ("numbers", ctx.numbers),
      ("warning", ctx.warning), ("muted", ctx.muted),
    ]
    for (name, style) in text {
      let fg = Self.rgb(style.foreground, default: Self.black)
      #expect(Self.contrast(fg, Self.white) >= 4.5, "\(name) on white")
      #expect(Self.contrast(fg, highlight) >= 4.5, "\(name) on the selected row")
    }
    for (name, style) in [
      ("positive bar", ctx.positiveBar), ("negative bar", ctx.negativeBar), ("probability bar", ctx.probabilityBar),
      ("frame", ctx.frame),
    ] {
      let fg = Self.rgb(style.foreground, default: Self.black)
      #expect(Self.contrast(fg, Self.white) >= 3, "\(name) on white")
      #expect(Self.contrast(fg, highlight) >= 3, "\(name) on the selected row")
    }
    // Distinctions: the selected row's grey shows on white; target, errors and the two bar signs differ.
    #expect(Self.contrast(highlight, Self.white) >= 1.3)
    #expect(ctx.target.foreground != ctx.error.foreground)
    #expect(ctx.target.foreground != .default && ctx.error.foreground != .default)
    #expect(ctx.negativeBar.foreground != ctx.positiveBar.foreground)
    #expect(ctx.heat(-0.5, scale: 1).background != ctx.heat(0.5, scale: 1).background)
    // Heat cells carry their own background: AA in both themes at every level.
    for theme in Theme.allCases {
      let c = RenderContext(colorMode: .extended, unicode: true, theme: theme)
      for v in stride(from: -1.0, through: 1.0, by: 0.05) {
        let st = c.heat(v, scale: 1)
        let (fg, bg) = (
          Self.rgb(st.foreground, default: Self.black), Self.rgb(st.background, default: Self.white)
        )
        #expect(Self.contrast(fg, bg) >= 4.5, "\(theme) heat \(v)")
      }
    }
  }

  @Test func themeNames() {
    #expect(Theme.named("dark", environment: ["COLORFGBG": "0;15"]) == .dark)
    #expect(Theme.named("Light", environment: [:]) == .light)
    #expect(Theme.named("AUTO", environment: ["COLORFGBG": "0;15"]) == .light)
    #expect(Theme.named("auto", environment: [:]) == .dark)
    #expect(Theme.named("purple", environment: [:]) == nil)
    #expect(Theme.named("", environment: [:]) == nil)
  }

  /// `COLORFGBG`'s last field is the background: 0–6 and 8 are dark, 7 and 9–15 light; anything else keeps dark.
  @Test func colorFGBGNamesTheBackground() {
    for bg in 0...15 {
      let expected: Theme = (0...6).contains(bg) || bg == 8 ? .dark : .light
      #expect(Theme.fromColorFGBG("0;\(bg)") == expected, "background \(bg)")
      #expect(Theme.fromColorFGBG("15;default;\(bg)") == expected, "rxvt's three fields, background \(bg)")
    }
    for value in [nil, "", "garbage", "0;", "0;default", "0;16", "0;255", "0;-1", "7; 15", "15;0"] {
      #expect(Theme.fromColorFGBG(value) == .dark, "\(value ?? "unset")")
    }
    #expect(Theme.fromColorFGBG("15") == .light)
  }

  /// Every role that has a colour (or background, or attributes) of its own in the dark theme has one in the light
  /// theme too, in 256 colours: no two things the dark theme tells apart look the same on white.
  @Test func theLightThemeKeepsEveryDistinctionOfTheDarkOne() {
    func roles(_ ctx: RenderContext) -> [(String, Style)] {
      var selected = Style.plain
      ctx.highlightRow(&selected)
      var selectedTarget = ctx.target
      ctx.highlightRow(&selectedTarget)
      var out: [(String, Style)] = [
        ("frame", ctx.frame), ("muted", ctx.muted), ("target", ctx.target), ("error", ctx.error), ("good", ctx.good),
        ("numbers", ctx.numbers), ("warning", ctx.warning), ("positive bar", ctx.positiveBar),
        ("negative bar", ctx.negativeBar), ("probability bar", ctx.probabilityBar),
        ("overflow marker", ctx.overflowMarker), ("status bar", ctx.statusBar), ("selected row", selected),
        ("selected target", selectedTarget), ("plain", .plain),
      ]
      for v in [-1.0, -0.7, -0.5, -0.3, -0.1, 0, 0.1, 0.3, 0.5, 0.7, 1] {
        out.append(("heat \(v)", ctx.heat(v, scale: 1)))
      }
      return out
    }
    let dark = roles(RenderContext(colorMode: .extended, theme: .dark))
    let light = roles(RenderContext(colorMode: .extended, theme: .light))
    func colors(_ s: Style) -> [TerminalColor] { [s.foreground, s.background] }
    var pairs = 0
    for i in dark.indices {
      for j in dark.indices where j > i {
        let (a, b) = (dark[i], dark[j])
        if colors(a.1) != colors(b.1) {
          pairs += 1
          #expect(colors(light[i].1) != colors(light[j].1), "\(a.0) and \(b.0): different colours only in the dark")
        } else if a.1 != b.1 {
          #expect(light[i].1 != light[j].1, "\(a.0) and \(b.0) differ in the dark theme, not in the light")
        }
      }
    }
    #expect(pairs > 200)
    // Roles with a background of their own (the overflow marker, the heat cells, the selected row) are AA in both
    // themes, with the terminal's own text colour (white on a dark terminal, black on a light one) where they keep it.
    for (roles, text) in [(dark, Self.white), (light, Self.black)] {
      for (name, style) in roles where style.background != .default {
        let (fg, bg) = (Self.rgb(style.foreground, default: text), Self.rgb(style.background, default: Self.white))
        #expect(Self.contrast(fg, bg) >= 4.5, "\(name): \(style)")
      }
    }
    // Negative and positive stay red and blue (the heatmap's and the bars' convention).
    for ctx in [RenderContext(colorMode: .extended, theme: .light), RenderContext(colorMode: .extended, theme: .dark)] {
      let negative = Self.rgb(ctx.negativeBar.foreground, default: Self.black)
      let positive = Self.rgb(ctx.positiveBar.foreground, default: Self.black)
      #expect(negative.0 > negative.2 && positive.2 > positive.0)
      let cold = Self.rgb(ctx.heat(0.8, scale: 1).background, default: Self.white)
      let hot = Self.rgb(ctx.heat(-0.8, scale: 1).background, default: Self.white)
      #expect(hot.0 > hot.2 && cold.2 > cold.0)
    }
  }

  /// The dark theme is what it was: the light theme changes nothing without colour.
  @Test func withoutColourTheThemesAreTheSame() throws {
    let state = try Self.states()[0]
    var a = Buffer(width: 0, height: 0)
    var b = Buffer(width: 0, height: 0)
    Frame.render(
      state, evaluation: nil, comparison: nil, into: &a, width: 120, height: 40,
      context: RenderContext(colorMode: .none, theme: .dark))
    Frame.render(
      state, evaluation: nil, comparison: nil, into: &b, width: 120, height: 40,
      context: RenderContext(colorMode: .none, theme: .light))
    #expect(a == b)
  }
}
