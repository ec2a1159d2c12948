import Foundation
import Testing

/// Which theme reaches the real terminal: `--theme`, `SOFTMAX_LAB_THEME` (the flag wins) and `--theme auto` with
/// `COLORFGBG`, read from the colours tmux records (`capture-pane -e`).
@Suite("Themes in a real terminal (tmux)", .serialized)
struct ThemeTmuxTests {
  /// The selected row's background tells the themes apart: 256-colour 253 (light grey) on white, 238 on black; the
  /// light theme's target is 58 (olive).
  static let lightMarks = ["\u{1B}[48;5;253m", "\u{1B}[38;5;58m"]
  static let darkMarks = ["\u{1B}[48;5;238m"]

  @Test(arguments: [
    ("", "", false),
    ("", "--theme light", true),
    ("SOFTMAX_LAB_THEME=light", "", true),
    ("SOFTMAX_LAB_THEME=light", "--theme dark", false),
    ("SOFTMAX_LAB_THEME=dark", "--theme light", true),
    ("COLORFGBG='0;15'", "--theme auto", true),
    ("COLORFGBG='0;default;7'", "--theme auto", true),
    ("COLORFGBG='15;0'", "--theme auto", false),
    ("", "--theme auto", false),
    ("COLORFGBG='0;15' SOFTMAX_LAB_THEME=auto", "", true),
  ])
  func theThemeReachesTheTerminal(environment: String, arguments: String, light: Bool) throws {
    let t = try TmuxSession(width: 100, height: 30)
    if !environment.isEmpty {
      try t.type("export \(environment)")
      try t.keys("Enter")
    }
    try t.launch("--logits 1,2,3 --target 0 " + arguments)
    _ = try t.waitFor { $0.contains("0.09003") && $0.contains("? help") }
    let colours = try t.tmux(["capture-pane", "-p", "-e", "-t", t.name])
    for mark in Self.lightMarks {
      #expect(colours.contains(mark) == light, "\(environment) \(arguments): \(mark.dropFirst()) \(light)")
    }
    for mark in Self.darkMarks {
      #expect(colours.contains(mark) == !light, "\(environment) \(arguments): \(mark.dropFirst()) \(!light)")
    }
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
  }

  /// A bad theme name is refused with the source it came from; a valid `--theme` wins over a bad variable.
  @Test func aBadThemeNamesItsSource() throws {
    let fromVariable = try run(["eval", "--logits", "1"], environment: ["SOFTMAX_LAB_THEME": "purple"])
    #expect(fromVariable.status == 0, "eval has no theme: \(fromVariable.stderr)")
    let explore = try run(["explore"], environment: ["SOFTMAX_LAB_THEME": "purple"])
    #expect(explore.status != 0)
    #expect(explore.stderr.contains("SOFTMAX_LAB_THEME must be dark, light or auto, not 'purple'"), "\(explore.stderr)")
    let flag = try run(["explore", "--theme", "sepia"])
    #expect(flag.stderr.contains("--theme must be dark, light or auto, not 'sepia'"), "\(flag.stderr)")
    let wins = try run(["explore", "--theme", "light"], environment: ["SOFTMAX_LAB_THEME": "purple"])
    #expect(!wins.stderr.contains("SOFTMAX_LAB_THEME"), "\(wins.stderr)")
    #expect(wins.stderr.lowercased().contains("terminal"), "only the missing terminal is left: \(wins.stderr)")
  }
}
