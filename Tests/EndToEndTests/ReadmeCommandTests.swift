import Foundation
import SoftmaxTUI
import Testing

/// Every `swift run softmax-lab …` command shown in a README code block runs as written from the package root: the
/// same arguments to the built binary, exit status 0 and some output. A `> file` redirection writes into a temporary
/// folder instead of the checkout. The interactive commands (no subcommand, `explore`, `tour`) are left to the tmux
/// tests.
@Suite("README commands")
struct ReadmeCommandTests {
  /// The package root (this file is `Tests/EndToEndTests/ReadmeCommandTests.swift`).
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// One README command: the softmax-lab arguments and the file its output is redirected to, if any.
  struct Command: CustomStringConvertible {
    var line: String
    var arguments: [String]
    var redirect: String?
    var description: String { line }
  }

  /// Shell words of one line: blanks separate, single and double quotes group, `#` at the start of a word ends the
  /// line, and `>` is a word of its own.
  static func words(_ line: String) -> [String] {
    var words: [String] = []
    var current = ""
    var inWord = false
    var quote: Character? = nil
    for ch in line {
      if let q = quote {
        if ch == q { quote = nil } else { current.append(ch) }
        continue
      }
      switch ch {
      case "'", "\"":
        quote = ch
        inWord = true
      case " ", "\t":
        if inWord { words.append(current) }
        current = ""
        inWord = false
      case "#" where !inWord:
        return words
      case ">":
        if inWord { words.append(current) }
        words.append(">")
        current = ""
        inWord = false
      default:
        current.append(ch)
        inWord = true
      }
    }
    if inWord { words.append(current) }
    return words
  }

  /// The `swift run softmax-lab` commands in the README's fenced code blocks.
  static func commands(inReadme text: String) -> [Command] {
    var out: [Command] = []
    var inBlock = false
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.hasPrefix("```") {
        inBlock.toggle()
        continue
      }
      guard inBlock else { continue }
      var words = words(line)
      guard words.count >= 3, words[0] == "swift", words[1] == "run", words[2] == "softmax-lab" else { continue }
      words.removeFirst(3)
      var redirect: String? = nil
      if let k = words.firstIndex(of: ">"), k + 1 < words.count {
        redirect = words[k + 1]
        words.removeSubrange(k...)
      }
      out.append(Command(line: line, arguments: words, redirect: redirect))
    }
    return out
  }

  /// Whether the command starts the explorer (no subcommand, `explore`, `tour`, `quiz`, or `lesson` without
  /// `--check`).
  static func isInteractive(_ c: Command) -> Bool {
    guard let first = c.arguments.first else { return true }
    if first == "lesson" { return !c.arguments.contains("--check") }
    return first.hasPrefix("-") || first == "explore" || first == "tour" || first == "quiz"
  }

  @Test func theCommandParserReadsTheREADMEsShapes() {
    let readme = """
      ```sh
      swift run softmax-lab      # start the explorer
      swift run softmax-lab eval --logits=-1,0.5,2 --format json
      swift run softmax-lab eval --logits "1 2 3"   # a comment
      swift run softmax-lab eval --logits-file examples/logits.npy --format markdown > example.md
      swift run softmax-lab-allocations
      ```
      swift run softmax-lab eval --outside-a-block
      """
    let found = ReadmeCommandTests.commands(inReadme: readme)
    #expect(found.map(\.arguments).count == 4)
    #expect(found[0].arguments.isEmpty && ReadmeCommandTests.isInteractive(found[0]))
    #expect(found[2].arguments == ["eval", "--logits", "1 2 3"])
    #expect(found[3].arguments == ["eval", "--logits-file", "examples/logits.npy", "--format", "markdown"])
    #expect(found[3].redirect == "example.md")
  }

  @Test func everyREADMECommandRunsAsWritten() throws {
    let text = try String(contentsOf: ReadmeCommandTests.root.appendingPathComponent("README.md"), encoding: .utf8)
    let all = ReadmeCommandTests.commands(inReadme: text)
    let runnable = all.filter { !ReadmeCommandTests.isInteractive($0) }
    // Not vacuous: the README shows the eval examples, the .npy one and gradcheck.
    #expect(runnable.count >= 7, "found only \(runnable.count) commands")
    #expect(runnable.contains { $0.arguments.contains("examples/logits.npy") })
    #expect(runnable.contains { $0.arguments.first == "gradcheck" })
    // The shipped lessons are checked as the README shows: the tour and both examples.
    let checked = runnable.filter { $0.arguments.starts(with: ["lesson", "--check"]) }.map { $0.arguments[2] }
    #expect(
      Set(checked).isSuperset(of: [
        "Sources/SoftmaxLesson/Resources/tour.md", "examples/lessons/index-notation.md",
        "examples/lessons/stability.md",
      ]))
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("softmax-lab-readme-\(getpid())")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let binary = try labBinary()
    for command in runnable {
      let process = Process()
      process.executableURL = binary
      process.arguments = command.arguments
      process.currentDirectoryURL = ReadmeCommandTests.root
      let outFile = scratch.appendingPathComponent(
        command.redirect.map { ($0 as NSString).lastPathComponent } ?? "stdout")
      _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
      let out = try FileHandle(forWritingTo: outFile)
      let err = Pipe()
      process.standardOutput = out
      process.standardError = err
      process.standardInput = FileHandle.nullDevice
      try process.run()
      let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      try out.close()
      let output = try Data(contentsOf: outFile)
      #expect(process.terminationStatus == 0, "\(command): exit \(process.terminationStatus), \(errText)")
      #expect(!output.isEmpty, "\(command): no output")
      try? FileManager.default.removeItem(at: outFile)
    }
    print("README: \(runnable.count) of \(all.count) `swift run softmax-lab` commands run (the others are interactive)")
  }
}
