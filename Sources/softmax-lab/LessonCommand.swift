import ArgumentParser
import Foundation
import SoftmaxCore
import SoftmaxLesson
import SoftmaxTUI

/// Runs a lesson file in the explorer, or checks it without a terminal.
struct LessonCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lesson",
    abstract: "Run a lesson file (Markdown, one `## ` heading per step) in the explorer, or --check it.",
    discussion: """
      A lesson is a Markdown file: each `## ` heading starts a step, whose prose is shown in the lesson box; a fenced \
      block marked `state` sets the step's logits, target, precision, screen and knobs in YAML (a key left out keeps \
      the previous step's value); `> press: KEY` is the key the step waits for, `> expect: CLAIM` a claim about the \
      state after it (loss < 0.01, softmax[2] > 0.9, gradient[1] == -0.5 ± 1e-3), `> ask: QUANTITY` a quiz question. \
      In the explorer N goes to the next step and B back. The README's "Writing a lesson" has a complete example.

      --check parses every step, validates every state, presses every step's key and judges every claim, without a \
      terminal; each problem is printed as FILE:LINE: message, and the exit status is 1 if there is any.

      Examples:
        softmax-lab lesson examples/lessons/index-notation.md
        softmax-lab lesson --check examples/lessons/stability.md
      """)

  @Argument(help: ArgumentHelp("The lesson file.", valueName: "FILE.md"))
  var file: String

  @Flag(help: "Check the lesson without a terminal: every state, key and claim; exit 1 on any problem.")
  var check = false

  @OptionGroup var display: DisplayOptions

  func run() throws {
    let parsed: LessonFile
    do {
      parsed = try LessonCommand.load(file)
    } catch {
      for line in error.lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
      throw ExitCode(1)
    }
    if check {
      let issues = LessonChecker.check(parsed)
      for issue in issues { FileHandle.standardError.write(Data((issue.described(file: file) + "\n").utf8)) }
      if !issues.isEmpty { throw ExitCode(1) }
      let claims = parsed.claims.reduce(0) { $0 + $1.count }
      print("\(file): \(parsed.lesson.steps.count) steps, \(claims) claims hold")
      return
    }
    let status = runLesson(parsed.lesson, display: display)
    if status != 0 { throw ExitCode(status) }
  }

  /// Problems reading or parsing a lesson file, one line each.
  struct Failure: Error {
    var lines: [String]
  }

  /// The lesson in `path`, or its problems as `FILE:LINE: …` lines.
  static func load(_ path: String, label: String = "Lesson") throws(Failure) -> LessonFile {
    let bytes: [UInt8]
    do {
      bytes = try InputOptions.readFile(path)
    } catch {
      throw Failure(lines: ["\(path): \(error.message)"])
    }
    switch LessonParser.parse(bytes, label: label) {
    case .success(let file): return file
    case .failure(let issues): throw Failure(lines: issues.issues.map { $0.described(file: path) })
    }
  }
}

/// Runs `lesson` in the explorer from its first step; when it has questions, prints the score on leaving.
func runLesson(_ lesson: Lesson, display: DisplayOptions) -> Int32 {
  var start: AppState
  do {
    start = AppState(problem: try Problem(logits: [1, 2, 3]).validated())
  } catch {
    return 1
  }
  start.lesson = lesson
  let theme: Theme
  do { theme = try display.resolvedTheme() } catch {
    FileHandle.standardError.write(Data("softmax-lab: \(error)\n".utf8))
    return 64
  }
  let asked = lesson.steps.filter { $0.ask != nil }.count
  return runExplorer(state: start, noColor: display.noColor, ascii: display.ascii, theme: theme, tour: true) { end in
    guard asked > 0 else { return }
    let right = end.quizResults.values.filter { $0 }.count
    print("\(lesson.title): \(right)/\(asked) right at the first try")
  }
}

/// A quiz in the explorer: a question of each kind in turn on random small vectors.
struct QuizCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "quiz",
    abstract: "Questions on random small vectors (softmax, gradient, loss, Jacobian): type each answer, Enter.",
    discussion: """
      Each question hides its quantity and shows what it is computed from; the answer is judged at the 4 \
      significant digits the explorer shows (within half a unit of the 4th digit), then the worked answer is shown \
      with the derivation step it comes from. N skips or goes on, B goes back; the score (right at the first try) \
      is shown at the end and printed on leaving. The same --seed gives everyone the same quiz.

      Examples:
        softmax-lab quiz --seed 7 --count 5
      """)

  @Option(
    help: ArgumentHelp("The quiz's seed: the same seed gives the same questions (default: random).", valueName: "S"))
  var seed: UInt64?

  @Option(help: ArgumentHelp("How many questions, 1…100 (default: 5).", valueName: "N"))
  var count: Int = 5

  @OptionGroup var display: DisplayOptions

  func validate() throws {
    guard (1...100).contains(count) else { throw ValidationError("--count \(count) must be in 1...100") }
  }

  func run() throws {
    let lesson = QuizGenerator.lesson(seed: seed ?? UInt64.random(in: 0...999_999), count: count)
    let status = runLesson(lesson, display: display)
    if status != 0 { throw ExitCode(status) }
  }
}
