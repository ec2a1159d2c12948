import Foundation
import Testing

/// The numbers `eval --format json` prints, recorded once and compared ever after: a guard for changes that must not
/// move a digit (the one-engine redesign, a new summation, a faster exponential).
///
/// The corpus (`Corpus/eval-corpus.txt`) is one argument list per line: hand-picked hostile vectors and random ones, in
/// every precision, with τ, ε, soft targets, masked classes, upstream gradients and learning rates, C from 1 to
/// 131,072. `Corpus/eval-expected.txt` holds, for each line, every top-level JSON field: verbatim when short, else its
/// length and a 64-bit FNV-1a hash of its text (a 131,072-class softmax is megabytes). A changed field is named in the
/// failure. After an intended change (an accuracy fix, named in its commit), re-record with `CORPUS_RECORD=1 swift
/// test --filter EvalCorpus` and read the diff.
@Suite("eval JSON corpus")
struct EvalCorpusTests {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

  @Test func everyFieldIsAsRecorded() throws {
    let corpus = try String(contentsOf: Self.folder.appendingPathComponent("eval-corpus.txt"), encoding: .utf8)
    let cases = corpus.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map {
      $0.split(separator: " ").map(String.init)
    }
    #expect(cases.count >= 200)
    var recorded: [String] = []
    for arguments in cases {
      let result = try run(["eval", "--format", "json"] + arguments)
      #expect(result.status == 0, "\(arguments): \(result.stderr)")
      recorded.append(Self.fingerprint(arguments: arguments, json: result.stdout))
    }
    let expectedURL = Self.folder.appendingPathComponent("eval-expected.txt")
    if ProcessInfo.processInfo.environment["CORPUS_RECORD"] == "1" {
      try (recorded.joined(separator: "\n") + "\n").write(to: expectedURL, atomically: true, encoding: .utf8)
      return
    }
    let expected = try String(contentsOf: expectedURL, encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(expected.count == recorded.count, "the corpus and its record have different lengths; re-record")
    for (want, got) in zip(expected, recorded) where want != got {
      Issue.record("changed: \(Self.difference(want, got))")
    }
  }

  /// One line: the arguments, then each top-level field as `name=value` (short) or `name#length:hash`, tab-separated.
  static func fingerprint(arguments: [String], json: String) -> String {
    var fields: [(String, String)] = []
    for line in json.split(separator: "\n", omittingEmptySubsequences: false) {
      // A top-level field starts at two spaces of indent; its continuation lines are indented deeper.
      if line.hasPrefix("  \""), let colon = line.firstIndex(of: ":") {
        let name = String(line[line.index(line.startIndex, offsetBy: 3)..<colon].dropLast())
        fields.append((name, String(line[line.index(after: colon)...])))
      } else if !fields.isEmpty, line.hasPrefix("   ") {
        fields[fields.count - 1].1 += "\n" + line
      }
    }
    let parts = fields.map { name, text -> String in
      let value = text.trimmingCharacters(in: .whitespaces)
      if value.utf8.count <= 240 && !value.contains("\n") && !value.contains("\t") { return "\(name)=\(value)" }
      var hash: UInt64 = 0xcbf2_9ce4_8422_2325
      for byte in value.utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
      }
      return "\(name)#\(value.utf8.count):\(String(hash, radix: 16))"
    }
    return ([arguments.joined(separator: " ")] + parts).joined(separator: "\t")
  }

  /// The fields in which two fingerprint lines differ, for the failure message.
  static func difference(_ want: String, _ got: String) -> String {
    let a = want.split(separator: "\t").map(String.init)
    let b = got.split(separator: "\t").map(String.init)
    let changed = zip(a.dropFirst(), b.dropFirst()).filter { $0 != $1 }.map { "\n  was \($0)\n  now \($1)" }
    let count = a.count == b.count ? "" : " (field count \(a.count) → \(b.count))"
    return "eval " + (a.first ?? "") + count + changed.joined()
  }
}
