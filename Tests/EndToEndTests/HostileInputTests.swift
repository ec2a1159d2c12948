import Foundation
import SoftmaxCore
import Testing

@testable import softmax_lab

/// The hostile-input tests' own seeded generator (SplitMix64).
struct HostileRNG: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
  mutating func chance(_ p: Double) -> Bool { unit() < p }
  mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
  mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }
}

/// The outcome of one bounded run of the binary.
struct BoundedRun {
  var status: Int32
  var signaled: Bool
  var timedOut: Bool
  var stdout: String
  var stderr: String
}

/// A scratch folder for this process's hostile files.
private let hostileDir: URL = {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("softmax-lab-hostile-\(getpid())")
  try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}()

private func hostileFile(_ name: String, _ bytes: [UInt8]) throws -> String {
  try FileManager.default.createDirectory(at: hostileDir, withIntermediateDirectories: true)
  let url = hostileDir.appendingPathComponent(name)
  try Data(bytes).write(to: url)
  return url.path
}

/// Runs the binary with a time limit (killed past it), output collected through files so nothing can block.
func runBounded(_ arguments: [String], timeout: Double = 30) throws -> BoundedRun {
  let id = UUID().uuidString
  try FileManager.default.createDirectory(at: hostileDir, withIntermediateDirectories: true)
  let outURL = hostileDir.appendingPathComponent("out-\(id)")
  let errURL = hostileDir.appendingPathComponent("err-\(id)")
  _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
  _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
  defer {
    try? FileManager.default.removeItem(at: outURL)
    try? FileManager.default.removeItem(at: errURL)
  }
  let process = Process()
  process.executableURL = try labBinary()
  process.arguments = arguments
  process.standardInput = FileHandle.nullDevice
  let out = try FileHandle(forWritingTo: outURL)
  let err = try FileHandle(forWritingTo: errURL)
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let deadline = Date().addingTimeInterval(timeout)
  var timedOut = false
  while process.isRunning {
    if Date() > deadline {
      timedOut = true
      kill(process.processIdentifier, SIGKILL)
      break
    }
    usleep(2_000)
  }
  process.waitUntilExit()
  try? out.close()
  try? err.close()
  return BoundedRun(
    status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal, timedOut: timedOut,
    stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
    stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
}

/// A clean refusal: non-zero exit by `exit`, one `Error:` line (containing `naming`), no trace, nothing on stdout.
func expectRefusal(_ r: BoundedRun, naming: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
  #expect(!r.timedOut && !r.signaled, "\(what): hung or killed by a signal", sourceLocation: sourceLocation)
  #expect(r.status != 0, "\(what): exit 0, stdout \(r.stdout.prefix(200))", sourceLocation: sourceLocation)
  let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
  #expect(errors.count == 1, "\(what): stderr \(r.stderr.prefix(500))", sourceLocation: sourceLocation)
  if let line = errors.first, !naming.isEmpty {
    #expect(
      line.lowercased().contains(naming.lowercased()), "\(what): '\(line)' lacks '\(naming)'",
      sourceLocation: sourceLocation)
    #expect(line.count < 400, "\(what): message of \(line.count) characters", sourceLocation: sourceLocation)
  }
  for trace in ["Stack dump", "Fatal error", "Backtrace", "Current stack trace", "Crash", "💣"] {
    #expect(!r.stderr.contains(trace), "\(what): \(r.stderr.prefix(500))", sourceLocation: sourceLocation)
  }
  #expect(r.stdout.isEmpty, "\(what): printed \(r.stdout.prefix(200))", sourceLocation: sourceLocation)
}

/// Accepted: exit 0 and a JSON report; returns it.
func expectAccepted(_ r: BoundedRun, _ what: String, sourceLocation: SourceLocation = #_sourceLocation)
  -> [String: Any]
{
  #expect(
    !r.timedOut && !r.signaled && r.status == 0, "\(what): status \(r.status), \(r.stderr.prefix(300))",
    sourceLocation: sourceLocation)
  let object = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
  let json = object as? [String: Any]
  #expect(json != nil, "\(what): not JSON: \(r.stdout.prefix(200))", sourceLocation: sourceLocation)
  return json ?? [:]
}

/// A `.npy` file with a hand-written header (version 1.0, padded like numpy's) and raw data.
func npyFile(header: String, data: [UInt8]) -> [UInt8] {
  var text = header
  let unpadded = 10 + text.utf8.count + 1
  text += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
  let n = text.utf8.count
  return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(text.utf8) + data
}

func f8(_ values: [Double]) -> [UInt8] {
  values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt64($0))) } }
}

func header(_ descr: String, _ shape: String) -> String {
  "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
}

@Suite("Hostile files and arguments", .serialized)
struct HostileInputTests {
  // MARK: - The table of hostile inputs, through the real binary

  enum Expectation {
    case refused(naming: String)
    case accepted(([String: Any]) -> Bool)
    /// Accepted, checked on the text report (for sizes whose JSON is too slow to print in a debug build).
    case acceptedText(String)
  }

  struct Case {
    var name: String
    var arguments: [String]
    var expectation: Expectation
  }

  static func logits(_ json: [String: Any]) -> [Any] { json["logits"] as? [Any] ?? [] }
  static func classes(_ json: [String: Any]) -> Int { (json["classes"] as? NSNumber)?.intValue ?? -1 }

  static func fileCases() throws -> [Case] {
    let good = npyFile(header: header("<f8", "(3,)"), data: f8([1, 2, 3]))
    let million = NPYParser.encode((0..<1_000_000).map { Float($0 % 7) })
    let tooMany = npyFile(header: header("<f2", "(1048577,)"), data: [UInt8](repeating: 0, count: 2 * 1_048_577))
    func file(_ name: String, _ bytes: [UInt8]) throws -> [String] { ["--logits-file", try hostileFile(name, bytes)] }
    return [
      Case(
        name: "npy truncated data", arguments: try file("trunc.npy", Array(good.dropLast(5))),
        expectation: .refused(naming: "truncated .npy data")),
      Case(
        name: "npy cut inside the magic", arguments: try file("cut.npy", Array(good.prefix(4))),
        expectation: .refused(naming: "not valid UTF-8")),
      Case(
        name: "npy cut inside the header", arguments: try file("cuthead.npy", Array(good.prefix(30))),
        expectation: .refused(naming: "header length")),
      Case(
        name: "npy bad magic", arguments: try file("magic.npy", [0x93] + Array("NUMPX".utf8) + good.dropFirst(6)),
        expectation: .refused(naming: "magic.npy")),
      Case(
        name: "npy header lies (shape too big)",
        arguments: try file("lie-big.npy", npyFile(header: header("<f8", "(5,)"), data: f8([1, 2, 3]))),
        expectation: .refused(naming: "expected 40 bytes")),
      Case(
        name: "npy header lies (shape too small)",
        arguments: try file("lie-small.npy", npyFile(header: header("<f8", "(2,)"), data: f8([1, 2, 3]))),
        expectation: .refused(naming: "does not match")),
      Case(
        name: "npy header length past the end",
        arguments: try file("hlen.npy", Array(good.prefix(8)) + [0xFF, 0x7F] + Array(good.dropFirst(10).prefix(20))),
        expectation: .refused(naming: "header length")),
      Case(
        name: "npy big-endian",
        arguments: try file("be.npy", npyFile(header: header(">f8", "(3,)"), data: f8([1, 2, 3]))),
        expectation: .refused(naming: "big-endian")),
      Case(
        name: "npy 2-D",
        arguments: try file("2d.npy", npyFile(header: header("<f8", "(2, 2)"), data: f8([1, 2, 3, 4]))),
        expectation: .refused(naming: "2-D array")),
      Case(
        name: "npy int32",
        arguments: try file("i4.npy", npyFile(header: header("<i4", "(2,)"), data: [UInt8](repeating: 1, count: 8))),
        expectation: .refused(naming: "<i4")),
      Case(
        name: "npy complex128",
        arguments: try file("c16.npy", npyFile(header: header("<c16", "(1,)"), data: [UInt8](repeating: 0, count: 16))),
        expectation: .refused(naming: "<c16")),
      Case(
        name: "npy not a dict",
        arguments: try file("nodict.npy", npyFile(header: "['<f8', (3,)]", data: f8([1, 2, 3]))),
        expectation: .refused(naming: "bad .npy header")),
      Case(
        name: "npy nesting bomb",
        arguments: try file(
          "nest.npy", npyFile(header: "{'descr': '<f8', 'shape': " + String(repeating: "(", count: 5000), data: [])),
        expectation: .refused(naming: "bad .npy header")),
      Case(
        name: "npy NaN inside", arguments: try file("nan.npy", NPYParser.encode([1, .nan, 3] as [Double])),
        expectation: .refused(naming: "NaN")),
      Case(
        name: "npy +inf inside", arguments: try file("inf.npy", NPYParser.encode([1, .infinity] as [Double])),
        expectation: .refused(naming: "+inf")),
      Case(
        name: "npy 2^20 + 1 values", arguments: try file("toomany.npy", tooMany),
        expectation: .refused(naming: "1048576")),
      Case(
        name: "npy 10^6 classes", arguments: try file("million.npy", million),
        expectation: .acceptedText("1,000,000 classes")),
      Case(
        name: "text garbage", arguments: try file("garbage.txt", Array("1, 2, banana\n".utf8)),
        expectation: .refused(naming: "banana")),
      Case(name: "text empty", arguments: try file("empty.txt", []), expectation: .refused(naming: "no numbers")),
      Case(
        name: "text only blank lines", arguments: try file("blank.txt", Array("\n\n   \n\t\n".utf8)),
        expectation: .refused(naming: "no numbers")),
      Case(
        name: "text with empty lines between numbers", arguments: try file("gaps.txt", Array("1\n\n\n2\n\n3".utf8)),
        expectation: .accepted { classes($0) == 3 }),
      Case(
        name: "text CRLF", arguments: try file("crlf.txt", Array("1\r\n2\r\n3\r\n".utf8)),
        expectation: .accepted { classes($0) == 3 }),
      Case(
        name: "text BOM + CRLF + comment",
        arguments: try file("bom.txt", [0xEF, 0xBB, 0xBF] + Array("# logits\r\n1, 2,\r\n3 # last\r\n".utf8)),
        expectation: .accepted { classes($0) == 3 }),
      Case(
        name: "text UTF-16", arguments: try file("utf16.txt", [0xFF, 0xFE, 0x31, 0x00, 0x2C, 0x00, 0x32, 0x00]),
        expectation: .refused(naming: "UTF-16")),
      Case(
        name: "text binary junk", arguments: try file("junk.txt", [0x31, 0x2C, 0xC3, 0x28, 0x00, 0xFF]),
        expectation: .refused(naming: "UTF-8")),
      Case(
        name: "text NUL byte", arguments: try file("nul.txt", [0x31, 0x00, 0x2C, 0x32]),
        expectation: .refused(naming: "\\u{0}")),
      Case(
        name: "text 2^20 + 1 values",
        arguments: try file("toomany.txt", Array(String(repeating: "0\n", count: 1_048_577).utf8)),
        expectation: .refused(naming: "the limit is 1048576")),
      Case(
        name: "a directory", arguments: ["--logits-file", hostileDir.path], expectation: .refused(naming: "cannot read")
      ),
      Case(
        name: "a missing file", arguments: ["--logits-file", hostileDir.path + "/missing/x.txt"],
        expectation: .refused(naming: "No such file")),
      Case(
        name: "an endless file", arguments: ["--logits-file", "/dev/zero"], expectation: .refused(naming: "128 MiB")),
    ]
  }

  static func argumentCases() -> [Case] {
    [
      Case(name: "NaN", arguments: ["--logits=1,NaN,3"], expectation: .refused(naming: "NaN")),
      Case(name: "+∞", arguments: ["--logits=+∞,1"], expectation: .refused(naming: "+inf")),
      Case(name: "+inf word", arguments: ["--logits=1,+Infinity"], expectation: .refused(naming: "+inf")),
      Case(
        name: "−∞ masks", arguments: ["--logits=−∞,1"], expectation: .accepted { "\(logits($0).first ?? "")" == "-inf" }
      ),
      Case(name: "all masked", arguments: ["--logits=-inf,-inf"], expectation: .refused(naming: "every logit is -inf")),
      Case(
        name: "−0 (Unicode minus)", arguments: ["--logits=−0,1"],
        expectation: .accepted { (logits($0).first as? NSNumber).map { $0.doubleValue.sign == .minus } == true }),
      Case(name: "1e400", arguments: ["--logits=1e400"], expectation: .refused(naming: "too large")),
      Case(name: "-1e400", arguments: ["--logits=-1e400,0"], expectation: .refused(naming: "too large in magnitude")),
      Case(
        name: "1e-400 underflows to 0", arguments: ["--logits=1e-400,1"],
        expectation: .accepted { (logits($0).first as? NSNumber)?.doubleValue == 0 }),
      Case(
        name: "float64 denormal kept", arguments: ["--logits=4.9e-324,1"],
        expectation: .accepted { (logits($0).first as? NSNumber)?.doubleValue == Double.leastNonzeroMagnitude }),
      Case(
        name: "float16 denormal rounds to 0", arguments: ["--logits=1e-10,1", "--precision", "float16"],
        expectation: .accepted { (logits($0).first as? NSNumber)?.doubleValue == 0 }),
      Case(
        name: "float16 overflow", arguments: ["--logits=65520,1", "--precision", "half"],
        expectation: .refused(naming: "65504")),
      Case(
        name: "bfloat16 overflow", arguments: ["--logits=3.4e38", "--precision", "bf16"],
        expectation: .refused(naming: "not finite in bfloat16")),
      Case(name: "trailing comma", arguments: ["--logits=1,2,"], expectation: .accepted { classes($0) == 2 }),
      Case(name: "two trailing commas", arguments: ["--logits=1,2,,"], expectation: .refused(naming: "empty")),
      Case(name: "leading comma", arguments: ["--logits=,1"], expectation: .refused(naming: "starts with a comma")),
      Case(name: "brackets", arguments: ["--logits=[1,2]"], expectation: .refused(naming: "brackets")),
      Case(name: "semicolons", arguments: ["--logits=1;2"], expectation: .refused(naming: "';'")),
      Case(name: "full-width digits", arguments: ["--logits=１,２"], expectation: .refused(naming: "not a number")),
      Case(name: "empty", arguments: ["--logits="], expectation: .refused(naming: "--logits")),
      Case(name: "blank", arguments: ["--logits= "], expectation: .refused(naming: "no numbers")),
      Case(
        name: "a 100,000-digit number", arguments: ["--logits=1" + String(repeating: "0", count: 100_000)],
        expectation: .refused(naming: "too large")),
      Case(
        name: "20,000 classes in one argument",
        arguments: ["--logits=" + Array(repeating: "0.5", count: 20_000).joined(separator: ","), "--target", "19999"],
        expectation: .accepted { classes($0) == 20_000 }),
      Case(
        name: "target far out of range", arguments: ["--logits=1,2", "--target", "99999999999999999999"],
        expectation: .refused(naming: "--target")),
      Case(
        name: "target -1", arguments: ["--logits=1,2", "--target", "-1"], expectation: .refused(naming: "out of range")),
      Case(
        name: "temperature 0", arguments: ["--logits=1,2", "--temperature", "0"],
        expectation: .refused(naming: "temperature")),
      Case(
        name: "temperature denormal in float16",
        arguments: [
          "--logits=1,2", "--temperature", "1e-30", "--precision",
          "float16",
        ], expectation: .refused(naming: "temperature")),
      Case(
        name: "x/τ overflows", arguments: ["--logits=60000,1", "--temperature", "0.5", "--precision", "float16"],
        expectation: .refused(naming: "/ temperature")),
      Case(
        name: "temperature nan", arguments: ["--logits=1,2", "--temperature", "nan"],
        expectation: .refused(naming: "temperature")),
      Case(
        name: "learning rate beyond float16", arguments: ["--logits=1,2", "--lr", "1e6", "--precision", "float16"],
        expectation: .refused(naming: "learning rate")),
      Case(
        name: "smoothing 1e-400 is 0", arguments: ["--logits=1,2", "--label-smoothing", "1e-400"],
        expectation: .accepted { ($0["label_smoothing"] as? NSNumber)?.doubleValue ?? 0 == 0 }),
      Case(
        name: "soft target NaN", arguments: ["--logits=1,2", "--soft-target", "nan,1"],
        expectation: .refused(naming: "soft target")),
      Case(name: "random 0", arguments: ["--random", "0"], expectation: .refused(naming: "--random 0")),
      Case(name: "random 2^20 + 1", arguments: ["--random", "1048577"], expectation: .refused(naming: "1048576")),
      Case(
        name: "scale 1e400", arguments: ["--random", "3", "--scale", "1e400"], expectation: .refused(naming: "scale")),
      Case(name: "scale nan", arguments: ["--random", "3", "--scale", "nan"], expectation: .refused(naming: "scale")),
      Case(
        name: "unknown precision", arguments: ["--logits=1", "--precision", "float8"],
        expectation: .refused(naming: "float8")),
      Case(name: "unknown option", arguments: ["--logits=1", "--bogus"], expectation: .refused(naming: "--bogus")),
    ]
  }

  @Test func hostileTable() throws {
    let cases = try HostileInputTests.fileCases() + HostileInputTests.argumentCases()
    let clock = ContinuousClock.now
    for c in cases {
      var format = "json"
      if case .acceptedText = c.expectation { format = "text" }
      let r = try runBounded(["eval", "--format", format] + c.arguments, timeout: 60)
      switch c.expectation {
      case .acceptedText(let piece):
        #expect(!r.timedOut && !r.signaled && r.status == 0, "\(c.name): status \(r.status) \(r.stderr.prefix(300))")
        #expect(r.stdout.contains(piece), "\(c.name): \(r.stdout.prefix(300))")
      case .refused(let naming):
        expectRefusal(r, naming: naming, c.name)
      case .accepted(let check):
        let json = expectAccepted(r, c.name)
        #expect(check(json), "\(c.name): accepted with the wrong meaning: \(r.stdout.prefix(300))")
      }
    }
    print("hostile inputs: \(cases.count) files and arguments through the binary in \(ContinuousClock.now - clock)")
    try? FileManager.default.removeItem(at: hostileDir)  // about 10 MB of hostile files
  }

  @Test func helpDocumentsTheAcceptedOddities() throws {
    let help = try runBounded(["eval", "--help"])
    #expect(help.status == 0)
    let text = help.stdout.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: " ")
    for piece in ["trailing comma", "-0", "denormal", "byte-order mark", "CRLF", "1048576", "128 MiB", "rounded"] {
      #expect(text.contains(piece), "eval --help does not mention \(piece)")
    }
  }

  // MARK: - Fuzzing the parsers in-process

  /// How a value may be written.
  static func spell(_ v: Double, _ rng: inout HostileRNG) -> String {
    if v == -.infinity { return rng.pick(["-inf", "-Infinity", "−∞", "-∞", "−inf", "-INF"]) }
    if v == 0 && v.sign == .minus { return rng.pick(["-0", "−0", "-0.0", "-0e5"]) }
    let plain = rng.chance(0.2) ? String(v.description) : "\(v)"
    switch rng.int(0...4) {
    case 0: return plain.replacingOccurrences(of: "-", with: "−")
    case 1: return v >= 0 ? "+" + plain : plain
    case 2: return v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : plain
    case 3: return plain.uppercased()  // 1E-05
    default: return plain
    }
  }

  static func randomValue(_ rng: inout HostileRNG) -> Double {
    switch rng.int(0...9) {
    case 0: return -.infinity
    case 1: return -0.0
    case 2: return rng.pick([Double.leastNonzeroMagnitude, 0x1p-1030, 1e-45, 6e-8, 1e-300])
    case 3: return rng.pick([65504, 65520, 3.4e38, 1e300, 1.7976931348623157e308, -1e308])
    case 4: return Double(rng.int(-1000...1000))
    default: return (rng.unit() - 0.5) * Double.pow(10, Double(rng.int(-5...5)))
    }
  }

  @Test func textAndArgumentParsersRoundTripAndNeverTrap() throws {
    var rng = HostileRNG(seed: 0x7E47)
    var exact = 0
    var refused = 0
    var accepted = 0
    for _ in 0..<3000 {
      // A well-formed document with known values, written in one of the accepted styles.
      let values = (0..<rng.int(1...12)).map { _ in HostileInputTests.randomValue(&rng) }
      let separator = rng.pick([",", ", ", " ", "\t", "\n", "\r\n", " ,\r\n", ",\n\n"])
      var text = values.map { HostileInputTests.spell($0, &rng) }.joined(separator: separator)
      if rng.chance(0.3) { text += "," }
      if rng.chance(0.2) { text = "# a comment\r\n" + text + " # trailing\n" }
      var bytes = Array(text.utf8)
      if rng.chance(0.2) { bytes = [0xEF, 0xBB, 0xBF] + bytes }
      let parsed = try NumberListParser.parseList(bytes: bytes)
      #expect(
        parsed.count == values.count && zip(parsed, values).allSatisfy { $0.bitPattern == $1.bitPattern },
        "\(text.debugDescription) parsed as \(parsed), expected \(values)")
      exact += 1

      // Then a mutation: a byte changed, inserted or removed, or a hostile token spliced in.
      var mutated = bytes
      for _ in 0..<rng.int(1...3) {
        let hostile = rng.pick([
          "nan", "+inf", "1e400", ",,", "[", ";", "\u{0}", "\u{FEFF}", "1e", "--1", "0x", "∞∞", "é",
        ])
        let at = rng.int(0...mutated.count)
        switch rng.int(0...3) {
        case 0 where !mutated.isEmpty: mutated[rng.int(0...(mutated.count - 1))] = UInt8(rng.int(0...255))
        case 1: mutated.insert(contentsOf: Array(hostile.utf8), at: at)
        case 2 where !mutated.isEmpty: mutated.remove(at: rng.int(0...(mutated.count - 1)))
        default: mutated.insert(UInt8(rng.int(0...255)), at: at)
        }
      }
      let precision = rng.pick(Precision.allCases)
      do {
        let list = try NumberListParser.parseList(bytes: mutated)
        var p = Problem(logits: list, target: rng.int(0...max(0, list.count - 1)), precision: precision)
        if rng.chance(0.3) { p.temperature = rng.pick([0.5, 1e-30, 2, -1, .nan]) }
        let v = try p.validated()
        accepted += 1
        #expect(v.logits.allSatisfy { !$0.isNaN && $0 != .infinity && precision.round($0) == $0 })
        #expect(try v.validated() == v)
      } catch {
        refused += 1
        #expect(
          !error.message.isEmpty && !error.message.contains("\n") && error.message.count < 300,
          "bad message: \(error.message.debugDescription)")
      }
    }

    print(
      "parser fuzz: \(exact) documents round-tripped exactly, \(exact) mutated (\(accepted) accepted, \(refused) "
        + "refused with one line)")
    #expect(accepted > 100 && refused > 500)
  }

  static func randomArguments(_ rng: inout HostileRNG) -> [String] {
    var args: [String] = []
    let values = (0..<rng.int(0...6)).map { _ in spell(randomValue(&rng), &rng) }
    let junk = ["", "abc", "1,,2", "nan", "+∞", "1e400", "-0", "1,2,", "0x1p-3", "[1]", "1;2", "5e-324", "１"]
    switch rng.int(0...3) {
    case 0: args.append("--logits=" + values.joined(separator: ","))
    case 1: args.append("--logits=" + (rng.chance(0.5) ? rng.pick(junk) : values.joined(separator: " ") + ","))
    case 2: args += ["--random", rng.pick(["0", "1", "3", "-2", "99999999999999999999", "x", "1048577"])]
    default: break
    }
    for _ in 0..<rng.int(0...3) {
      switch rng.int(0...7) {
      case 0: args += ["--target", rng.pick(["0", "1", "-1", "5", "99999999999999999999", "x"])]
      case 1: args += ["--precision", rng.pick(["float16", "bf16", "fp32", "double", "float8", ""])]
      case 2: args.append("--temperature=" + rng.pick(["0.5", "0", "-1", "nan", "1e-30", "1e400", "2", "inf"]))
      case 3: args.append("--label-smoothing=" + rng.pick(["0.1", "1", "1.5", "-0", "nan", "1e-400"]))
      case 4: args.append("--soft-target=" + rng.pick(["0.5,0.5", "1", "nan,1", "0.2,0.3,0.5", ""]))
      case 5: args.append("--lr=" + rng.pick(["0.1", "1e6", "-5", "inf", "1e300"]))
      case 6: args.append("--upstream=" + rng.pick(["1", "-2", "nan", "1e400", "70000"]))
      default:
        args += rng.chance(0.5) ? ["--seed", rng.pick(["1", "-1", "x"])] : ["--scale", rng.pick(["2", "nan"])]
      }
    }
    return args
  }

  @Test func npyParserRoundTripsAndNeverTraps() throws {
    var rng = HostileRNG(seed: 0x0A9F)
    var exact = 0
    var refused = 0
    var accepted = 0
    for _ in 0..<2000 {
      let values = (0..<rng.int(1...20)).map { _ in HostileInputTests.randomValue(&rng) }.map {
        $0.isFinite ? $0 : -1
      }
      let bytes: [UInt8]
      var expected: [Double]
      switch rng.int(0...2) {
      case 0:
        bytes = NPYParser.encode(values)
        expected = values
      case 1:
        let f = values.map { Float($0) }
        bytes = NPYParser.encode(f)
        expected = f.map { Double($0) }
      default:
        let h = values.map { Float16($0) }
        bytes = NPYParser.encode(h)
        expected = h.map { Double($0) }
      }
      let parsed = try NPYParser.parse(bytes)
      #expect(parsed.count == expected.count && zip(parsed, expected).allSatisfy { $0.bitPattern == $1.bitPattern })
      exact += 1

      var mutated = bytes
      switch rng.int(0...4) {
      case 0: mutated = Array(mutated.prefix(rng.int(0...(mutated.count - 1))))  // truncated
      case 1:  // a lying shape
        let text = String(decoding: mutated, as: UTF8.self).replacingOccurrences(
          of: "(\(values.count),)",
          with: rng.pick(["(\(values.count + 1),)", "(0,)", "(-1,)", "(2, 2)", "()", "(1e3,)"]))
        mutated = Array(text.utf8)
      case 2:  // another dtype
        let text = String(decoding: mutated, as: UTF8.self).replacingOccurrences(
          of: "'<f", with: rng.pick(["'>f", "'<i", "'|u", "'<c", "'=f", "'<F"]))
        mutated = Array(text.utf8)
      case 3:  // the header length
        mutated[8] = UInt8(rng.int(0...255))
        mutated[9] = UInt8(rng.int(0...255))
      default:
        for _ in 0..<rng.int(1...4) { mutated[rng.int(0...(mutated.count - 1))] = UInt8(rng.int(0...255)) }
      }
      do {
        let list = try NPYParser.parse(mutated)
        let precision = rng.pick(Precision.allCases)
        _ = try Problem(logits: list, precision: precision).validated()
        accepted += 1
      } catch {
        refused += 1
        #expect(
          !error.message.isEmpty && !error.message.contains("\n") && error.message.count < 400,
          "bad message: \(error.message.debugDescription)")
      }
    }
    print("npy fuzz: \(exact) files round-tripped exactly, \(exact) mutated (\(accepted) accepted, \(refused) refused)")
    #expect(refused > 1000 && accepted > 10)
  }

  // MARK: - Random command lines through the binary, cross-checked with the in-process parser

  @Test func randomCommandLinesThroughTheBinary() throws {
    var rng = HostileRNG(seed: 0xB1_4A47)
    let clock = ContinuousClock.now
    var refused = 0
    var predicted = 0
    let runs = 160
    for _ in 0..<runs {
      let arguments = HostileInputTests.randomArguments(&rng)
      let r = try runBounded(["eval", "--format", "json"] + arguments, timeout: 20)
      #expect(!r.timedOut && !r.signaled, "\(arguments): hung or killed")
      if r.status == 0 {
        let json = expectAccepted(r, "\(arguments)")
        #expect(HostileInputTests.classes(json) >= 1)
      } else {
        refused += 1
        expectRefusal(r, naming: "", "\(arguments)")
      }
      // With nothing but --logits, the core predicts the outcome exactly.
      if arguments.count == 1, let text = arguments.first, text.hasPrefix("--logits="), text.count > 9 {
        predicted += 1
        do {
          let list = try NumberListParser.parseList(String(text.dropFirst(9)))
          let p = try Problem(logits: list).validated()
          #expect(r.status == 0 && r.stdout.contains("\"classes\": \(p.classes),"), "\(arguments): \(r.stderr)")
        } catch {
          expectRefusal(r, naming: error.message, "\(arguments)")
        }
      }
    }
    print(
      "binary fuzz: \(runs) random command lines (\(refused) refused, \(runs - refused) accepted, \(predicted) "
        + "predicted exactly by the core), each bounded to 20 s, in \(ContinuousClock.now - clock)")
    #expect(predicted > 10 && refused > 40 && refused < runs - 20)
  }

  // MARK: - Nothing lost: atomic writes

  @Test func atomicWritesKeepTheOldFile() throws {
    let fm = FileManager.default
    let dir = hostileDir.appendingPathComponent("atomic-\(UUID().uuidString)")
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    func leftovers() throws -> [String] { try fm.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") } }
    let path = dir.appendingPathComponent("example.md").path

    // Success: the new content replaces the old, and no temporary file is left.
    try AtomicFile.write("old\n", to: path)
    try AtomicFile.write("new\n", to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
    #expect(try leftovers().isEmpty)

    // Failures before anything is written: a parent that is a regular file, a missing folder, /proc.
    for bad in [path + "/inside.md", dir.path + "/missing/folder/x.md", "/proc/softmax-lab-\(getpid()).md"] {
      do {
        try AtomicFile.write("lost?\n", to: bad)
        Issue.record("writing to \(bad) succeeded")
      } catch {
        #expect("\(error)".contains("cannot write") || "\(error)".contains("unchanged"), "\(error)")
        #expect(!"\(error)".contains("\n"))
      }
      #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
    }

    // A failure after the temporary file is written (the rename onto a non-empty folder fails): the folder and its
    // file are intact, the temporary file is removed, and the message says the old file is unchanged.
    let folder = dir.appendingPathComponent("taken.md")
    try fm.createDirectory(at: folder, withIntermediateDirectories: true)
    try "keep\n".write(to: folder.appendingPathComponent("inner.txt"), atomically: false, encoding: .utf8)
    do {
      try AtomicFile.write("lost?\n", to: folder.path)
      Issue.record("renaming over a non-empty folder succeeded")
    } catch {
      #expect("\(error)".contains("unchanged"), "\(error)")
    }
    #expect(try String(contentsOf: folder.appendingPathComponent("inner.txt"), encoding: .utf8) == "keep\n")
    #expect(try leftovers().isEmpty)

    // The exporter never overwrites an earlier export, and says when it fails.
    let ev = Evaluation(try Problem(logits: [1, 2, 3]).validated())
    try "first\n".write(toFile: dir.path + "/softmax-lab-example-1.md", atomically: false, encoding: .utf8)
    let message = Exporter.export(ev, directory: dir.path)
    #expect(!message.isError && message.text.hasSuffix("softmax-lab-example-2.md"), "\(message.text)")
    #expect(try String(contentsOfFile: dir.path + "/softmax-lab-example-1.md", encoding: .utf8) == "first\n")
    let failed = Exporter.export(ev, directory: path)  // a regular file as the folder
    #expect(failed.isError && failed.text.description.contains("export failed"), "\(failed.text)")
    print("atomic writes: 1 replace, 4 refused writes, 2 exports; the old files intact each time")
  }

  // MARK: - A full disk while the explorer runs

  /// `ulimit -f 0` makes every write past 0 bytes fail (EFBIG), as a full disk would: `w` must report the failure,
  /// keep the earlier export and the session, and leave no temporary file; the explorer then quits normally.
  @Test func exportOnAFullDiskKeepsTheSession() throws {
    let t = try TmuxSession(width: 120, height: 40)
    try "OLD\n".write(toFile: t.path("softmax-lab-example-1.md"), atomically: false, encoding: .utf8)
    try t.type(
      "cd \(t.dir.path); stty -g > stty.before; (ulimit -f 0; exec \(t.binary) --logits 1,2,3); echo $? > status; "
        + "stty -g > stty.after")
    try t.keys("Enter")
    try t.waitFor("0.6652")
    try t.type("w")
    let screen = try t.waitFor("export failed")
    #expect(screen.contains("could not write"), "\(screen)")
    #expect(t.read("softmax-lab-example-1.md") == "OLD")
    let files = try FileManager.default.contentsOfDirectory(atPath: t.dir.path)
    #expect(!files.contains { $0.contains(".tmp-") || $0 == "softmax-lab-example-2.md" }, "\(files)")
    // The session goes on: a step still works, then q quits with status 0 and the terminal restored.
    try t.type("s")
    try t.waitFor("stepped")
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    #expect(try t.waitForFile("stty.after") == t.read("stty.before"))  // written just after status
    print("full-disk export: refused with a message, old export intact, session kept, exit 0")
  }
}
