import Foundation
import Testing

/// The built `softmax-lab` binary: searched for next to the test bundle, then in each parent folder
/// (directly or under `.build/debug`).
func labBinary() throws -> URL {
  let fm = FileManager.default
  var starts = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
  if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
    starts.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
  }
  for start in starts {
    var dir = start.standardizedFileURL
    while true {
      for candidate in [
        dir.appendingPathComponent("softmax-lab"), dir.appendingPathComponent(".build/debug/softmax-lab"),
      ] {
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
          fm.isExecutableFile(atPath: candidate.path)
        {
          return candidate
        }
      }
      let parent = dir.deletingLastPathComponent()
      if parent.path == dir.path { break }
      dir = parent
    }
  }
  throw BinaryNotFound()
}

struct BinaryNotFound: Error, CustomStringConvertible {
  var description: String { "softmax-lab binary not found near \(CommandLine.arguments[0])" }
}

struct RunResult {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// Runs the binary with `arguments` (and `input` on its standard input) and collects its output. `environment`
/// entries are added to (or, with an empty value, removed from) the test's own environment.
func run(_ arguments: [String], input: [UInt8]? = nil, environment: [String: String] = [:]) throws -> RunResult {
  let process = Process()
  process.executableURL = try labBinary()
  process.arguments = arguments
  if !environment.isEmpty {
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value.isEmpty ? nil : value }
    process.environment = env
  }
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  let inPipe = Pipe()
  process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
  try process.run()
  if let input {
    inPipe.fileHandleForWriting.write(Data(input))
    try inPipe.fileHandleForWriting.close()
  }
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  let errBytes = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return RunResult(
    status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errBytes, as: UTF8.self))
}

/// Writes `bytes` to a fresh temporary file and returns its path.
func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("softmax-lab-tests-\(getpid())")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let url = dir.appendingPathComponent(name)
  try Data(bytes).write(to: url)
  return url.path
}

/// A `.npy` file: magic, version 1.0, the header padded to a multiple of 64 bytes, then `body`.
func npy(header: String, body: [UInt8]) -> [UInt8] {
  var text = header
  let unpadded = 10 + text.utf8.count + 1
  text += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
  let length = text.utf8.count
  return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(text.utf8) + body
}

func littleEndian(_ values: [Double]) -> [UInt8] {
  values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt64($0))) } }
}

@Suite("softmax-lab eval", .serialized)
struct EvalCLITests {
  @Test func jsonForOneTwoThree() throws {
    let result = try run(["eval", "--logits", "1,2,3", "--target", "2", "--format", "json"])
    #expect(result.status == 0, "\(result.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    let json = try #require(object as? [String: Any])
    // The exact digits (Foundation's parser on Linux may be off by an ulp, so the text is checked too).
    #expect(result.stdout.contains(#""softmax": [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]"#))
    let softmax = try #require(json["softmax"] as? [NSNumber]).map(\.doubleValue)
    #expect(abs(softmax[2] - 0.6652409557748219) < 1e-15)
    let loss = try #require((json["loss"] as? NSNumber)?.doubleValue)
    #expect(abs(loss - 0.4076059644443803) < 1e-15)
    let gradient = try #require(json["gradient"] as? [NSNumber]).map(\.doubleValue)
    #expect(abs(gradient[2] - (softmax[2] - 1)) < 1e-15)
    #expect(json["precision"] as? String == "float64")
    #expect((json["target"] as? NSNumber)?.intValue == 2)
  }

  @Test(arguments: ["text", "markdown", "latex"])
  func otherFormats(format: String) throws {
    let result = try run(["eval", "--logits=-1,0,1", "--format", format])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("0.6652"))
  }

  @Test func negativeValuesAfterOptions() throws {
    let result = try run(["eval", "--logits", "-1,2", "--upstream", "-2", "--temperature", "0.5", "--format", "json"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains(#""upstream": -2.0"#))
  }

  @Test func randomAndFiles() throws {
    let random = try run(["eval", "--random", "5", "--seed", "3", "--scale", "2", "--format", "json"])
    #expect(random.status == 0, "\(random.stderr)")
    #expect(random.stdout.contains(#""classes": 5"#))
    let text = try temporaryFile("logits.txt", Array("1, 2\n3\n".utf8))
    let fromText = try run(["eval", "--logits-file", text, "--target", "2", "--format", "json"])
    #expect(fromText.status == 0, "\(fromText.stderr)")
    #expect(fromText.stdout.contains("0.6652409557748219"))
    let file = try temporaryFile(
      "logits.npy",
      npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", body: littleEndian([1, 2, 3])))
    let fromNPY = try run(["eval", "--logits-file", file, "--target", "2", "--format", "json"])
    #expect(fromNPY.status == 0, "\(fromNPY.stderr)")
    #expect(fromNPY.stdout.contains("0.6652409557748219"))
  }

  /// `--logits-file -` reads standard input, as text or as `.npy`; an empty input is one clear error.
  @Test func standardInputIsAFile() throws {
    let text = try run(
      ["eval", "--logits-file", "-", "--target", "2", "--format", "json"], input: Array("1 2 3\n".utf8))
    #expect(text.status == 0, "\(text.stderr)")
    #expect(text.stdout.contains("0.6652409557748219"))
    let bytes = npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", body: littleEndian([1, 2, 3]))
    let binary = try run(["eval", "--logits-file", "-", "--target", "2", "--format", "json"], input: bytes)
    #expect(binary.status == 0, "\(binary.stderr)")
    #expect(binary.stdout.contains("0.6652409557748219"))
    let empty = try run(["eval", "--logits-file", "-", "--format", "json"], input: [])
    #expect(empty.status != 0)
    #expect(empty.stderr.contains("standard input"), "\(empty.stderr)")
  }

  /// A pipe into `--logits-file -` gives exactly the report the same bytes give from a file, as text and as `.npy`
  /// (float32 here, so the `.npy` path is not only float64), and a bad value is named as coming from standard input.
  @Test func standardInputReadsLikeTheSameFile() throws {
    let npyBytes = npy(
      header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
      body: [Float(1000), 1001, -2.5, 0.125].flatMap { v in
        (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) }
      })
    let inputs: [(String, [UInt8])] = [
      ("logits.txt", Array("# a comment\n1000, 1001\n-2.5\n0.125\n".utf8)), ("logits32.npy", npyBytes),
    ]
    for (name, bytes) in inputs {
      let path = try temporaryFile(name, bytes)
      let arguments = ["eval", "--target", "1", "--precision", "float32", "--format", "json", "--logits-file"]
      let fromFile = try run(arguments + [path])
      let fromPipe = try run(arguments + ["-"], input: bytes)
      #expect(fromFile.status == 0, "\(name): \(fromFile.stderr)")
      #expect(fromPipe.status == 0, "\(name): \(fromPipe.stderr)")
      #expect(fromPipe.stdout == fromFile.stdout, "\(name)")
      #expect(fromPipe.stdout.contains(#""classes": 4"#), "\(name)")
      #expect(fromPipe.stdout.contains(#""logits": [1000.0, 1001.0, -2.5, 0.125]"#), "\(name): \(fromPipe.stdout)")
    }
    let bad = try run(["eval", "--logits-file", "-"], input: Array("1 2 abc\n".utf8))
    try expectCleanFailure(bad, naming: "standard input")
    #expect(bad.stderr.contains("logit 2: \"abc\""), "\(bad.stderr)")
  }

  /// Standard input has the file size limit and says so in the same words as a file: an endless pipe and an endless
  /// file (`/dev/zero`) get the same message but for the name.
  @Test func anOversizeStandardInputIsRefusedLikeAFile() throws {
    let binary = try labBinary().path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    // cat dies of SIGPIPE once softmax-lab stops reading; the pipeline's status is softmax-lab's.
    process.arguments = ["-c", "cat /dev/zero | \"$0\" eval --logits-file -", binary]
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let pipedOut = out.fileHandleForReading.readDataToEndOfFile()
    let pipedErr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let piped = RunResult(
      status: process.terminationStatus, stdout: String(decoding: pipedOut, as: UTF8.self), stderr: pipedErr)
    try expectCleanFailure(piped, naming: "cannot read standard input: larger than 128 MiB")
    let file = try run(["eval", "--logits-file", "/dev/zero"])
    try expectCleanFailure(file, naming: "cannot read /dev/zero: larger than 128 MiB")
    #expect(piped.status == file.status)
    #expect(piped.stderr.replacingOccurrences(of: "standard input", with: "/dev/zero") == file.stderr)
  }

  /// A 128 × 256 text file is a batch, not a 32,768-class vector: one error line naming the line count.
  @Test func aTextBatchIsRefused() throws {
    let row = (0..<256).map { "\(Double($0 % 11) / 4)" }.joined(separator: " ")
    let path = try temporaryFile("batch.txt", Array(String(repeating: row + "\n", count: 128).utf8))
    let result = try run(["eval", "--logits-file", path])
    try expectCleanFailure(result, naming: "\(path) has 128 lines of logits; one line of logits is expected")
    #expect(result.status == 64)
  }

  /// Bad inputs and a piece of text the one-line error must contain (matched without regard to case).
  static let badInputs: [([String], String)] = [
    (["--logits", "1,abc,3"], "abc"),
    (["--logits", ""], ""),
    (["--logits", "1,2,3", "--target", "3"], "3"),
    (["--logits", "1,2,3", "--target", "-1"], "-1"),
    (["--logits", "1,2", "--precision", "float8"], "float8"),
    (["--logits", "1,2", "--temperature", "0"], "temperature"),
    (["--logits", "1,2", "--temperature", "-1"], "-1"),
    (["--logits", "1,2", "--label-smoothing", "1.5"], "1.5"),
    (["--logits", "1,2", "--label-smoothing", "-0.1"], "-0.1"),
    (["--logits", "1,2", "--soft-target", "-0.5,1.5"], "-0.5"),
    (["--logits", "1,2", "--soft-target", "0.5,0.6"], "1.1"),
    (["--logits", "1,2", "--soft-target", "1"], "soft target"),
    (["--logits", "1,nan,3"], "nan"),
    (["--logits", "+inf,1"], "inf"),
    (["--precision", "float16", "--logits", "70000,1"], "65504"),
    (["--logits-file", "/nonexistent/softmax-lab/logits.txt"], "/nonexistent/softmax-lab/logits.txt"),
    (["--logits", "1,2", "--random", "3"], "--random"),
    ([], "--logits"),
  ]

  @Test(arguments: badInputs)
  func badInputIsOneLine(arguments: [String], named: String) throws {
    try expectCleanFailure(try run(["eval"] + arguments), naming: named)
  }

  @Test(arguments: [
    ("bad-magic.npy", [0x93] + Array("NUMPX".utf8) + [1, 0, 0, 0]),
    (
      "truncated.npy",
      Array(
        npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", body: littleEndian([1, 2, 3]))
          .dropLast(5))
    ),
    (
      "big-endian.npy",
      npy(header: "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", body: littleEndian([1, 2]))
    ),
    (
      "two-d.npy",
      npy(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", body: littleEndian([1, 2, 3, 4]))
    ),
  ])
  func malformedNPY(name: String, bytes: [UInt8]) throws {
    let path = try temporaryFile(name, bytes)
    try expectCleanFailure(try run(["eval", "--logits-file", path]), naming: name)
  }

  func expectCleanFailure(_ result: RunResult, naming: String) throws {
    #expect(result.status != 0)
    let errorLines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
    #expect(errorLines.count == 1, "stderr: \(result.stderr)")
    if let line = errorLines.first, !naming.isEmpty {
      #expect(line.lowercased().contains(naming.lowercased()), "\(line) does not name \(naming)")
    }
    for trace in ["Stack dump", "Fatal error", "Backtrace", "Current stack trace", "Crash", "0x0"] {
      #expect(!result.stderr.contains(trace), "stderr: \(result.stderr)")
    }
    #expect(result.stdout.isEmpty)
  }

  @Test func helpAndVersion() throws {
    let help = try run(["--help"])
    #expect(help.status == 0)
    for piece in ["eval", "gradcheck", "explore"] { #expect(help.stdout.contains(piece)) }
    let evalHelp = try run(["eval", "--help"])
    #expect(evalHelp.status == 0)
    #expect(evalHelp.stdout.contains("--logits=-1,2"))
    let version = try run(["--version"])
    #expect(version.status == 0)
    #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
  }

  @Test func gradcheck() throws {
    for precision in ["float64", "float32", "bfloat16", "float16"] {
      let result = try run(["gradcheck", "--batch", "4", "--classes", "7", "--seed", "5", "--precision", precision])
      #expect(result.status == 0, "\(precision): \(result.stdout)\(result.stderr)")
      #expect(result.stdout.contains("PASS"))
      #expect(result.stdout.contains("tolerance"))
      #expect(result.stdout.contains("checked   every element"))
    }
    try expectCleanFailure(try run(["gradcheck", "--precision", "float8"]), naming: "float8")
    try expectCleanFailure(try run(["gradcheck", "--sample", "0"]), naming: "--sample 0")
  }

  /// The article's batch is accepted and passes; a gradient off by 1% in one element fails with exit code 1 in every
  /// precision.
  @Test func gradcheckFailsAWrongGradient() throws {
    for precision in ["float64", "float32", "bfloat16", "float16"] {
      let base = ["gradcheck", "--batch", "128", "--classes", "256", "--precision", precision]
      let good = try run(base)
      #expect(good.status == 0, "\(precision): \(good.stdout)\(good.stderr)")
      #expect(good.stdout.hasSuffix("PASS\n"))
      let bad = try run(base + ["--corrupt", "17,100"])
      #expect(bad.status == 1, "\(precision): \(bad.stdout)")
      #expect(bad.stdout.contains("FAIL: 1 of 32768 elements exceed their tolerance; first at row 17, class 100"))
      #expect(!bad.stdout.contains("PASS"))
    }
  }

  /// No size is refused: a batch far above the full-check limit checks a seeded sample and says so.
  @Test func gradcheckSamplesALargeBatch() throws {
    let result = try run(["gradcheck", "--batch", "1000000000", "--classes", "1000", "--precision", "bfloat16"])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.contains("checked   1048576 elements in 1049 seeded random rows (the default sample"))
    let chosen = try run(["gradcheck", "--batch", "1000", "--classes", "1000", "--sample", "2500"])
    #expect(chosen.status == 0)
    #expect(chosen.stdout.contains("checked   2500 elements in 3 seeded random rows (--sample"))
  }
}
