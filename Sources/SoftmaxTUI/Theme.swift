import SoftmaxCore
import SoftmaxText

/// The terminal background the colours are chosen for: a dark one (the default) or a light one (a lecture hall's
/// projector on white). Both keep the same distinctions (target, selection, negative and positive, errors); the light
/// one keeps every text colour at WCAG AA contrast (4.5:1, 3:1 for bars and frames) on white and on the selected
/// row's grey, with xterm's palette.
public enum Theme: String, CaseIterable, Sendable {
  case dark, light

  /// The theme `name` asks for (`dark`, `light` or `auto`, in any case), nil when `name` is none of them. `auto`
  /// reads `COLORFGBG` (see ``fromColorFGBG(_:)``).
  public static func named(_ name: String, environment: [String: String]) -> Theme? {
    switch name.lowercased() {
    case "dark": return .dark
    case "light": return .light
    case "auto": return fromColorFGBG(environment["COLORFGBG"])
    default: return nil
    }
  }

  /// The theme a `COLORFGBG` value implies. The variable (set by rxvt, Konsole, iTerm2 and others) is `fg;bg` or
  /// `fg;xpm;bg`, each a number of the 16 system colours; its last field is the background: 0–6 and 8 (black, the
  /// dark colours and dark grey) are dark, 7 and 9–15 (light grey, the bright colours and white) are light. A value
  /// that is missing, empty, not a number (`default`) or beyond 15 keeps dark.
  public static func fromColorFGBG(_ value: String?) -> Theme {
    guard let value, let last = value.split(separator: ";", omittingEmptySubsequences: false).last,
      let bg = Int(last), (0...15).contains(bg)
    else { return .dark }
    return bg == 7 || bg >= 9 ? .light : .dark
  }
}

/// How a frame is drawn: colours available, the background they are chosen for, Unicode or ASCII.
public struct RenderContext: Sendable {
  public var colorMode: ColorMode
  public var unicode: Bool
  public var theme: Theme

  public init(colorMode: ColorMode = .extended, unicode: Bool = true, theme: Theme = .dark) {
    self.colorMode = colorMode
    self.unicode = unicode
    self.theme = theme
  }

  /// Whether the light theme's colours apply (colour on, light background).
  var light: Bool { theme == .light && colorMode != .none }

  /// A colour per mode and theme: 256-colour dark, 256-colour light, 8-colour dark, 8-colour light.
  func pick(_ dark: UInt8, _ light: UInt8, basic: TerminalColor, basicLight: TerminalColor) -> TerminalColor {
    switch (colorMode, theme) {
    case (.extended, .dark): .indexed(dark)
    case (.extended, .light): .indexed(light)
    case (_, .dark): basic
    case (_, .light): basicLight
    }
  }

  // MARK: Glyphs (ASCII fallbacks when the locale is not UTF-8 or --ascii is given)

  var horizontal: Unicode.Scalar { unicode ? "─" : "-" }
  var vertical: Unicode.Scalar { unicode ? "│" : "|" }
  var topLeft: Unicode.Scalar { unicode ? "┌" : "+" }
  var topRight: Unicode.Scalar { unicode ? "┐" : "+" }
  var bottomLeft: Unicode.Scalar { unicode ? "└" : "+" }
  var bottomRight: Unicode.Scalar { unicode ? "┘" : "+" }
  var fullBlock: Unicode.Scalar { unicode ? "█" : "#" }
  var selectionMark: String { unicode ? "▸" : ">" }
  var targetMark: String { "T" }

  /// Converts text with math symbols to ASCII when needed (`∂s_i/∂x_n` → `ds_i/dx_n`).
  func text(_ line: TextLine) -> TextLine { unicode ? line : Self.ascii(line, prose: false) }

  /// `line` with every non-ASCII scalar spelled in ASCII (`?` when it has no spelling); `prose` adds the symbols of
  /// the text-heavy screens (`²`, `Δ`, `▲`, `▼`, `•`, curly quotes).
  static func ascii(_ line: TextLine, prose: Bool) -> TextLine {
    var out = TextLine()
    line.forEachScalar { ch in
      if ch.isASCII {
        out.append(ch)
      } else if let spelled = (prose ? proseSpelling(ch) : nil) ?? spelling(ch) {
        out.append(ascii: spelled)
      } else {
        out.append(ascii: UInt8(ascii: "?"))
      }
      return true
    }
    return out
  }

  /// The ASCII spelling of a symbol the explorer uses.
  static func spelling(_ ch: Unicode.Scalar) -> StaticString? {
    switch ch {
    case "∂": "d"
    case "σ": "sigma"
    case "δ": "delta"
    case "Σ": "sum"
    case "·", "×": "*"
    case "−", "–": "-"
    case "τ": "tau"
    case "ε": "eps"
    case "η": "eta"
    case "∇": "grad"
    case "→": "->"
    case "←": "<-"
    case "≈": "~"
    case "≤": "<="
    case "≥": ">="
    case "≠": "!="
    case "∞": "inf"
    case "✓": "ok"
    case "✗": "X"
    case "▸": ">"
    case "│": "|"
    case "─": "-"
    case "…": "..."
    case "⚠": "!"
    case "↑": "^"
    case "↓": "v"
    case "ℓ": "l"
    case "Δ": "d"
    case "±": "+/-"
    case "▏": "_"
    case "▲": "^"
    case "▼": "v"
    default: nil
    }
  }

  /// Spellings that only the prose of the Derivation, Stability and Descent screens uses.
  static func proseSpelling(_ ch: Unicode.Scalar) -> StaticString? {
    switch ch {
    case "²": "^2"
    case "Δ": "D"
    case "▲": "^"
    case "▼": "v"
    case "•": "*"
    case "“", "”": "\""
    case "’": "'"
    default: nil
    }
  }

  // MARK: Styles

  var title: Style { Style(attributes: .bold) }
  var frame: Style {
    colorMode == .none ? .plain : Style(foreground: pick(244, 242, basic: .white, basicLight: .black))
  }
  var label: Style { Style(attributes: .bold) }
  var muted: Style {
    if colorMode == .none { return Style(attributes: .dim) }
    if colorMode == .basic {
      return theme == .light ? Style(attributes: .dim) : Style(foreground: .white, attributes: .dim)
    }
    return Style(foreground: pick(245, 240, basic: .white, basicLight: .black))
  }
  var selected: Style { Style(attributes: .reverse) }

  /// The selected row's background in 256 colours (a grey a step off the terminal's own).
  var highlightBackground: TerminalColor { .indexed(theme == .light ? 253 : 238) }

  /// Marks the selected row without hiding its bars: a grey background in 256 colours, reverse video otherwise.
  func highlightRow(_ style: inout Style) {
    if colorMode == .extended {
      style.background = highlightBackground
      style.attributes.insert(.bold)
    } else {
      style.attributes.insert(.reverse)
    }
  }
  var target: Style {
    colorMode == .none
      ? Style(attributes: [.bold, .underline])
      : Style(foreground: pick(3, 58, basic: .yellow, basicLight: .magenta), attributes: .bold)
  }
  var error: Style {
    colorMode == .none
      ? Style(attributes: [.bold, .reverse])
      : Style(foreground: pick(1, 88, basic: .red, basicLight: .red), attributes: .bold)
  }
  var good: Style {
    colorMode == .none
      ? Style(attributes: .bold) : Style(foreground: pick(2, 22, basic: .green, basicLight: .blue), attributes: .bold)
  }
  /// Substituted numbers in the derivation: plain without colour, a calm cyan (a deep blue on white) with it.
  var numbers: Style {
    colorMode == .none ? .plain : Style(foreground: pick(117, 25, basic: .cyan, basicLight: .blue))
  }
  /// A warning that is not an error (a subnormal value): underlined without colour, yellow (purple on white) with it.
  var warning: Style {
    if colorMode == .none { return Style(attributes: .underline) }
    if colorMode == .basic && theme == .light { return Style(attributes: .underline) }
    return Style(foreground: pick(3, 90, basic: .yellow, basicLight: .black))
  }
  var positiveBar: Style {
    colorMode == .none ? .plain : Style(foreground: pick(33, 26, basic: .blue, basicLight: .blue))
  }
  /// Negative bars and numbers: a lighter red than ``error`` in both themes (203 against 1; 124 against 88 on white,
  /// where a lighter red than 124 would fall below 4.5:1 on the selected row's grey).
  var negativeBar: Style {
    colorMode == .none ? .plain : Style(foreground: pick(203, 124, basic: .red, basicLight: .red))
  }
  var probabilityBar: Style {
    colorMode == .none ? .plain : Style(foreground: pick(78, 28, basic: .green, basicLight: .magenta))
  }
  /// The status bar's marker of a naive softmax that overflowed (`⚠ inf/inf`): white on red in both themes.
  var overflowMarker: Style {
    switch colorMode {
    case .none: Style(attributes: [.reverse, .bold])
    case .basic: Style(foreground: .white, background: .red, attributes: .bold)
    case .extended: Style(foreground: .indexed(231), background: .red, attributes: .bold)
    }
  }
  var editing: Style { Style(attributes: [.reverse, .bold]) }
  /// The character under the edit line's cursor: cut out of the reversed line, as a block cursor is.
  var editCursor: Style { Style(attributes: [.bold]) }
  /// A selected pre-filled value (typing replaces it): out of the reversed line and underlined.
  var editSelection: Style { Style(attributes: [.bold, .underline]) }
  var statusBar: Style { Style(attributes: .reverse) }

  /// A diverging heat colour for a Jacobian entry: negative red, positive blue, intensity by `|v| / scale`.
  /// Without colour the sign is printed and strong entries are bold.
  func heat(_ v: Double, scale: Double) -> Style {
    let t = scale > 0 && v.isFinite ? Swift.min(1, abs(v) / scale) : 0
    switch colorMode {
    case .none:
      return t > 0.5 ? Style(attributes: .bold) : (t < 0.05 ? Style(attributes: .dim) : .plain)
    case .basic:
      if t < 0.05 { return Style(attributes: .dim) }
      let bg: TerminalColor = v < 0 ? .red : .blue
      return Style(foreground: .white, background: bg, attributes: t > 0.5 ? .bold : [])
    case .extended:
      if t < 0.02 {
        return theme == .light
          ? Style(foreground: .indexed(240), background: .indexed(255))
          : Style(foreground: .indexed(250), background: .indexed(236))
      }
      let level = Swift.min(4, Int(t * 5))
      // xterm-256 ramps: reds 52→196, blues 17→21. White text on all but the brightest red, which takes black
      // (white on 196 is 4.0:1, below AA).
      let reds: [UInt8] = [52, 88, 124, 160, 196]
      let blues: [UInt8] = [17, 18, 19, 20, 21]
      let bg = v < 0 ? reds[level] : blues[level]
      let fg: UInt8 = v < 0 && level == 4 ? 16 : 231
      return Style(foreground: .indexed(fg), background: .indexed(bg), attributes: level >= 3 ? .bold : [])
    }
  }
}

/// Number formatting for the explorer: 4 significant digits, or full round-trip digits in the current precision.
public struct NumberStyle: Sendable {
  public var precision: Precision
  public var full: Bool

  /// The most cells a number may take (see ``fit(_:_:)``); unlimited unless a table column sets it.
  public var limit = Int.max

  public init(precision: Precision, full: Bool) {
    self.precision = precision
    self.full = full
  }

  /// `x` in the mode's digits, within ``limit`` cells.
  public func callAsFunction(_ x: Double) -> TextLine {
    var line = TextLine()
    if full {
      precision.writeRoundTrip(x, to: &line)
    } else {
      DecimalFormat.write(x, digits: 4) { line.append(ascii: $0) }
    }
    return line.scalarCount > limit ? fit(x, limit) : line
  }

  /// `x` in at most `width` cells: as `callAsFunction` writes it when that fits, otherwise correctly rounded to the
  /// most significant digits that fit (a number is never cut). Wider than `width` only when even one digit is.
  public func fit(_ x: Double, _ width: Int) -> TextLine {
    var unlimited = self
    unlimited.limit = .max
    let line = unlimited(x)
    guard line.scalarCount > width, x.isFinite else { return line }
    var digits = full ? 16 : 3
    while digits > 1 {
      var shorter = TextLine()
      DecimalFormat.write(x, digits: digits) { shorter.append(ascii: $0) }
      if shorter.scalarCount <= width { return shorter }
      digits -= 1
    }
    var one = TextLine()
    DecimalFormat.write(x, digits: 1) { one.append(ascii: $0) }
    return one
  }

  /// The widest a formatted number gets, for column sizing.
  public var width: Int { full ? 24 : 10 }
}

extension Buffer {
  /// Draws a box border around `rect` with an optional title in its top edge.
  mutating func box(_ rect: Rect, title: TextLine? = nil, context ctx: RenderContext, titleStyle: Style? = nil) {
    guard rect.width >= 2, rect.height >= 2 else { return }
    let st = ctx.frame
    for x in rect.x + 1..<rect.maxX - 1 {
      put(ctx.horizontal, x: x, y: rect.y, style: st)
      put(ctx.horizontal, x: x, y: rect.maxY - 1, style: st)
    }
    for y in rect.y + 1..<rect.maxY - 1 {
      put(ctx.vertical, x: rect.x, y: y, style: st)
      put(ctx.vertical, x: rect.maxX - 1, y: y, style: st)
    }
    put(ctx.topLeft, x: rect.x, y: rect.y, style: st)
    put(ctx.topRight, x: rect.maxX - 1, y: rect.y, style: st)
    put(ctx.bottomLeft, x: rect.x, y: rect.maxY - 1, style: st)
    put(ctx.bottomRight, x: rect.maxX - 1, y: rect.maxY - 1, style: st)
    if let t = title, rect.width > 4 {
      let clip = Rect(x: rect.x + 1, y: rect.y, width: rect.width - 2, height: 1)
      write(" \(ctx.text(t)) ", x: rect.x + 2, y: rect.y, style: titleStyle ?? ctx.title, clip: clip)
    }
  }

  /// A horizontal bar of `fraction` (0…1) of `width` cells, with eighth-block resolution in Unicode.
  mutating func bar(fraction: Double, x: Int, y: Int, width: Int, style: Style, context ctx: RenderContext) {
    guard width > 0, fraction.isFinite, fraction > 0 else { return }
    let eighths = Int((Swift.min(1, fraction) * Double(width * 8)).rounded())
    let full = eighths / 8
    for i in 0..<full { put(ctx.fullBlock, x: x + i, y: y, style: style) }
    let rest = eighths % 8
    if rest > 0 && full < width {
      let partial: [Unicode.Scalar] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"]
      put(ctx.unicode ? partial[rest - 1] : (rest >= 4 ? "#" : "."), x: x + full, y: y, style: style)
    }
    if eighths == 0 { put(ctx.unicode ? "▏" : ".", x: x, y: y, style: style) }  // a visible trace of a tiny value
  }

  /// A signed bar around a centre axis: negative values grow left, positive right; `fraction` in −1…1.
  mutating func signedBar(
    fraction: Double, x: Int, y: Int, width: Int, context ctx: RenderContext
  ) {
    guard width >= 3 else { return }
    let half = (width - 1) / 2
    let axis = x + half
    put(ctx.vertical, x: axis, y: y, style: ctx.frame)
    guard fraction.isFinite, fraction != 0 else { return }
    // Eighths of a cell, rounded to nearest: a bar is as long as its value (not a whole cell for 3.8e−07), and a
    // value too small for an eighth still leaves a hairline, so a tiny gradient never looks like a zero one.
    let eighths = Int((Swift.min(1, abs(fraction)) * Double(half * 8)).rounded())
    let negative = fraction < 0
    let st = negative ? ctx.negativeBar : ctx.positiveBar
    func at(_ i: Int) -> Int { negative ? axis - 1 - i : axis + 1 + i }
    let full = Swift.min(eighths / 8, half)
    let glyph: Unicode.Scalar = ctx.unicode ? "█" : (negative ? "-" : "+")
    for i in 0..<full { put(glyph, x: at(i), y: y, style: st) }
    let rest = eighths % 8
    guard full < half else { return }
    if eighths == 0 {
      put(ctx.unicode ? (negative ? "▕" : "▏") : ".", x: at(0), y: y, style: st)
    } else if rest > 0 {
      let partial: [Unicode.Scalar] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"]
      if !ctx.unicode {
        if rest >= 4 { put(glyph, x: at(full), y: y, style: st) }
      } else if !negative {
        put(partial[rest - 1], x: at(full), y: y, style: st)
      } else if rest == 4 {
        put("▐", x: at(full), y: y, style: st)
      } else {
        // A left-growing bar ends in a right-aligned part: the left block of the complement, in reverse video.
        var reversed = st
        reversed.attributes.insert(.reverse)
        put(partial[7 - rest], x: at(full), y: y, style: reversed)
      }
    }
  }
}
