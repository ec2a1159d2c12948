import ArgumentParser
import Foundation
import SoftmaxCore
import SoftmaxLesson
import SoftmaxTUI
import SoftmaxText

/// Options of the terminal UI shared by `explore` and `tour`.
struct DisplayOptions: ParsableArguments {
  @Flag(name: .customLong("no-color"), help: "Draw without colour (also when NO_COLOR is set).")
  var noColor = false

  @Flag(help: "Draw with ASCII only, no Unicode box drawing or math symbols.")
  var ascii = false

  @Option(
    help: ArgumentHelp(
      "Colours for a dark or a light terminal background: dark, light or auto (reads COLORFGBG; dark when it is "
        + "unset). Default: SOFTMAX_LAB_THEME, or dark.",
      valueName: "theme"),
    completion: .list(Theme.allCases.map(\.rawValue) + ["auto"]))
  var theme: String?

  /// The theme the option or `SOFTMAX_LAB_THEME` names (dark when neither is given).
  func resolvedTheme(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Theme {
    let fromEnvironment = environment["SOFTMAX_LAB_THEME"].flatMap { $0.isEmpty ? nil : $0 }
    guard let name = theme ?? fromEnvironment else { return .dark }
    guard let t = Theme.named(name, environment: environment) else {
      let source = theme == nil ? "SOFTMAX_LAB_THEME" : "--theme"
      throw ValidationError("\(source) must be dark, light or auto, not '\(name)'")
    }
    return t
  }
}

/// The interactive explorer: every edit re-derives softmax, loss, Jacobian, gradient and step.
struct ExploreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "explore",
    abstract: "The interactive explorer (the default when no subcommand is given).",
    discussion: """
      Starts on [1, 2, 3] with target 0 unless logits are given; press ? inside for every key. It needs a terminal: \
      with standard output redirected, or standard input redirected from anything but --logits-file -, it says so \
      and exits 1 (use `softmax-lab eval`). With --logits-file - the logits come from standard input and the keys \
      from the controlling terminal.

      Examples:
        softmax-lab explore --logits 1000,1001,1002 --target 2 --precision float32
        softmax-lab explore --random 10 --seed 3 --theme light
        python3 make_logits.py | softmax-lab explore --logits-file -
      """)

  @OptionGroup var input: InputOptions
  @OptionGroup var display: DisplayOptions

  @Flag(
    help: ArgumentHelp(
      "Start from the session the last quit saved ($XDG_STATE_HOME/softmax-lab/last.json, by default "
        + "~/.local/state/softmax-lab/last.json); an unreadable one is kept aside and the explorer starts fresh."))
  var resume = false

  /// The validated starting state, made in `validate()` so an error is reported with this subcommand's usage.
  private var start: AppState?

  private enum CodingKeys: String, CodingKey {
    case input, display, resume
  }

  mutating func validate() throws {
    if resume && input.load != nil { throw ValidationError("give either --resume or --load, not both") }
    if resume, let name = input.firstGivenOption {
      throw ValidationError("--resume takes the whole problem from the last session; do not give \(name) with it")
    }
    if input.load != nil {
      start = try input.loadedState()
    } else if !resume {
      start = AppState(problem: try input.makeProblem(fallback: [1, 2, 3]))
    }
    _ = try display.resolvedTheme()
  }

  func run() throws {
    var state: AppState
    var note: String?
    if resume {
      let (resumed, message) = SessionStore.resume()
      let fresh = try Problem(logits: [1, 2, 3]).validated()
      state = resumed ?? AppState(problem: fresh)
      note = message
    } else {
      state = try start ?? AppState(problem: input.makeProblem(fallback: [1, 2, 3]))
    }
    if let note {
      // A problem also goes to standard error (it stays there after the explorer's screen is gone).
      if !note.hasPrefix("resumed") { FileHandle.standardError.write(Data("softmax-lab: \(note)\n".utf8)) }
      // On screen the state directory is left out (the line on standard error has it).
      let short = note.replacingOccurrences(of: SessionStore.stateDirectory() + "/", with: "")
      state.message = StatusMessage(TextLine(short), isError: !note.hasPrefix("resumed"))
    }
    let status = runExplorer(
      state: state, noColor: display.noColor, ascii: display.ascii, theme: try display.resolvedTheme(), tour: false)
    if status != 0 { throw ExitCode(status) }
  }
}

/// A guided lesson in the explorer: 11 short steps from what softmax does to the log-sum-exp fix.
struct TourCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tour",
    abstract: "A guided lesson in the explorer: N next, B back, q leaves.",
    discussion: """
      Eleven short lessons, from what softmax does to the log-sum-exp fix; each sets up a state and says what to \
      look at and which key to press. The tour is a lesson file like any other (see `softmax-lab lesson`), shipped \
      with the program.

      Examples:
        softmax-lab tour
        softmax-lab tour --theme light --ascii
      """)

  @OptionGroup var display: DisplayOptions

  func run() throws {
    _ = try display.resolvedTheme()
    let status = runLesson(BuiltInLessons.tour.lesson, display: display)
    if status != 0 { throw ExitCode(status) }
  }

}
