import Foundation
import Testing

/// `--help` as a user at an 80-column terminal (or a pipe) reads it, and the shell completion scripts.
@Suite("Help and completion")
struct HelpTests {
  static let commands = ["", "eval", "gradcheck", "explore", "tour", "bench"]

  /// The help of `command` at `COLUMNS=80`, with standard output a pipe (no TTY), split into lines.
  static func helpLines(_ command: String) throws -> [String] {
    let result = try run((command.isEmpty ? [] : [command]) + ["--help"], environment: ["COLUMNS": "80"])
    #expect(result.status == 0, "\(result.stderr)")
    return result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
  }

  /// The lines of the `Examples:` block (up to the next blank line), or nil when there is none.
  static func examples(_ lines: [String]) -> Range<Int>? {
    guard let start = lines.firstIndex(of: "Examples:") else { return nil }
    let end = lines[(start + 1)...].firstIndex(of: "") ?? lines.endIndex
    return (start + 1)..<end
  }

  /// The parser wraps every paragraph (a line ends early only where the next word would not have fit on it), no
  /// line is wider than 80 columns (the usage lines included), and each example is one whole line of its own.
  @Test(arguments: commands)
  func helpIsWrappedByTheParser(command: String) throws {
    let lines = try Self.helpLines(command)
    for line in lines { #expect(line.count <= 80, "wider than 80 columns: \(line)") }
    let usageAt = try #require(lines.firstIndex { $0.hasPrefix("USAGE: ") })
    let block = try #require(Self.examples(lines), "no Examples: block in `\(command) --help`")
    #expect(block.lowerBound < usageAt)
    #expect(block.count >= 2)
    for example in lines[block] {
      #expect(
        example.hasPrefix("  softmax-lab") || example.contains(" softmax-lab ") || example.contains("(softmax-lab "),
        "not a whole command line: '\(example)'")
      #expect(!example.hasSuffix(">") && !example.hasSuffix("|") && !example.hasSuffix("\\"), "cut: \(example)")
    }
    // The prose before the usage, without the examples: consecutive lines of one paragraph.
    let prose = (0..<usageAt).filter { !block.contains($0) && $0 != block.lowerBound - 1 }.map { lines[$0] }
    for (line, next) in zip(prose, prose.dropFirst()) where !line.isEmpty && !next.isEmpty {
      let word = next.split(separator: " ").first ?? ""
      #expect(line.count + 1 + word.count >= 80, "a hard line break before '\(word)' after: \(line)")
    }
    // A usage written by hand (wrapped to fit) names every option, so it cannot fall behind the options.
    let usageEnd = lines[usageAt...].firstIndex(of: "") ?? lines.endIndex
    let usage = lines[usageAt..<usageEnd].joined(separator: " ")
    if !usage.contains("<options>") && !usage.contains("<subcommand>") {
      let optionsAt = try #require(lines.firstIndex(of: "OPTIONS:"))
      for line in lines[optionsAt...] where line.hasPrefix("  --") {
        let name = String(line.dropFirst(2).prefix { $0 != " " })
        if name == "--help" || name == "--version" { continue }
        #expect(usage.contains("[\(name)"), "the usage does not name \(name): \(usage)")
      }
    }
  }

  /// The `> handout.md` of an example stays on its line, and every `eval` and `gradcheck` example works as printed
  /// (a redirection is dropped and the output checked instead).
  @Test func theExamplesRunAsPrinted() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    var ran = 0
    for command in ["eval", "gradcheck"] {
      let lines = try Self.helpLines(command)
      let block = try #require(Self.examples(lines))
      if command == "eval" {
        #expect(lines[block].contains("  softmax-lab eval --random 1000 --seed 3 --format markdown > handout.md"))
      }
      for example in lines[block] where example.hasPrefix("  softmax-lab \(command) ") && !example.contains("|") {
        var words = example.split(separator: " ").dropFirst().map(String.init)
        if let redirect = words.firstIndex(of: ">") { words.removeSubrange(redirect...) }
        words = words.map { $0.hasPrefix("examples/") ? root.appendingPathComponent($0).path : $0 }
        let result = try run(words)
        #expect(result.status == 0, "\(example): \(result.stderr)")
        #expect(!result.stdout.isEmpty, "\(example)")
        ran += 1
      }
    }
    #expect(ran >= 6)
  }

  /// `--generate-completion-script` prints a script for each shell that knows the subcommands, the options and the
  /// values of --precision, --theme and --format; bash accepts its script and registers the completion.
  @Test(arguments: ["bash", "zsh", "fish"])
  func completionScripts(shell: String) throws {
    let result = try run(["--generate-completion-script", shell])
    #expect(result.status == 0, "\(result.stderr)")
    let script = result.stdout
    for word in ["eval", "gradcheck", "tour", "bfloat16", "light", "markdown"] {
      #expect(script.contains(word), "the \(shell) script lacks \(word)")
    }
    for option in ["logits-file", "label-smoothing", "theme", "full-digits"] {
      let spelled = shell == "fish" ? "-l '\(option)'" : "--\(option)"
      #expect(script.contains(spelled), "the \(shell) script lacks \(spelled)")
    }
    guard shell == "bash", FileManager.default.isExecutableFile(atPath: "/bin/bash") else { return }
    let path = try temporaryFile("completion.bash", Array(script.utf8))
    let bash = Process()
    bash.executableURL = URL(fileURLWithPath: "/bin/bash")
    bash.arguments = ["--norc", "-c", "source \"$0\" && complete -p softmax-lab", path]
    let out = Pipe()
    bash.standardOutput = out
    bash.standardError = FileHandle.nullDevice
    try bash.run()
    let registered = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    bash.waitUntilExit()
    #expect(bash.terminationStatus == 0)
    #expect(registered.contains("-F _softmax-lab softmax-lab"), "\(registered)")
  }
}
