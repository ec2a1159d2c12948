import Foundation
import SoftmaxCore
import Testing

/// `softmax-lab eval --logits-file X --targets-file T …`: a batch from files, with PyTorch's semantics, end to end.
@Suite("softmax-lab eval on a batch")
struct BatchCLITests {
  /// A fresh directory with `files` written into it.
  static func directory(_ files: [String: [UInt8]]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sml-batch-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, bytes) in files { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
    return dir
  }

  static func text(_ s: String) -> [UInt8] { Array(s.utf8) }

  static func json(_ s: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
  }

  /// An int64 .npy of `values` (written by hand: the project's encoder writes floats only).
  static func int64NPY(_ values: [Int64]) -> [UInt8] {
    var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (\(values.count),), }"
    header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
    out += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
    out += Array(header.utf8)
    for v in values { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    return out
  }

  @Test func jsonHasTheContractKeysAndPyTorchsNumbers() throws {
    // [[0, 0], [ln 3, 0]], targets [0, 1], weights [1, 3]: mean = (ln 2 + 3 ln 4)/4.
    let dir = try Self.directory([
      "x.txt": Self.text("0 0\n# a comment\n\n1.0986122886681098 0\n"), "t.txt": Self.text("0, 1"),
      "w.txt": Self.text("1 3"),
    ])
    let r = try run([
      "eval", "--logits-file", dir.appendingPathComponent("x.txt").path, "--targets-file",
      dir.appendingPathComponent("t.txt").path, "--weight-file", dir.appendingPathComponent("w.txt").path,
      "--format", "json",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let j = try Self.json(r.stdout)
    #expect(j["batch"] as? Int == 2 && j["classes"] as? Int == 2 && j["reduction"] as? String == "mean")
    let loss = try #require(j["loss"] as? Double)
    #expect(abs(loss - 1.75 * log(2.0)) <= 1e-15)
    #expect(j["divisor"] as? Double == 4)
    let gradient = try #require(j["gradient"] as? [[Double]])
    #expect(gradient == [[-0.125, 0.125], [0.5625, -0.5625]])
    #expect((j["row_loss"] as? [Double])?.count == 2)
    #expect((j["softmax"] as? [[Double]])?.count == 2)
    #expect(j["ignored"] as? [Int] == [])
  }

  @Test func npyInputsIgnoreIndexAndSaveNpyRoundTrip() throws {
    var rng = SeededRandom(seed: 3)
    let (n, c) = (16, 7)
    let x = (0..<(n * c)).map { _ in Double(Float(rng.nextUnit())) }
    var targets = (0..<n).map { _ in Int64(rng.next() % UInt64(c)) }
    targets[5] = -100
    let dir = try Self.directory([
      "x.npy": NPYParser.encode(x, shape: [n, c], in: .float32).bytes, "t.npy": Self.int64NPY(targets),
    ])
    let out = dir.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    let r = try run([
      "eval", "--logits-file", dir.appendingPathComponent("x.npy").path, "--targets-file",
      dir.appendingPathComponent("t.npy").path, "--precision", "float32", "--format", "json", "--save-npy", out.path,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let j = try Self.json(r.stdout)
    #expect(j["ignored"] as? [Int] == [5])
    let gradient = try #require(j["gradient"] as? [[Double]])
    #expect(gradient[5].allSatisfy { $0 == 0 })
    // The saved arrays read back (float32, N×C) as the same numbers the JSON printed.
    let saved = try NPYParser.parseArray(
      Array(Data(contentsOf: out.appendingPathComponent("gradient.npy"))), integers: false)
    #expect(saved.shape == [n, c])
    // (JSON holds float32's shortest decimals: compared as float32 values.)
    #expect(saved.values.map { Float($0) } == gradient.flatMap { $0 }.map { Float($0) })
    let rowLoss = try NPYParser.parseArray(
      Array(Data(contentsOf: out.appendingPathComponent("row_loss.npy"))), integers: false)
    #expect(rowLoss.values.map { Float($0) } == (j["row_loss"] as? [Double])?.map { Float($0) })
  }

  @Test func badBatchesNameTheFileAndTheValue() throws {
    let dir = try Self.directory([
      "x.txt": Self.text("1 2 3\n4 5 6\n"), "ragged.txt": Self.text("1 2 3\n4 5\n"), "t.txt": Self.text("0 3"),
      "t1.txt": Self.text("0"), "nan.txt": Self.text("1 2 3\n4 nan 6\n"), "ok.txt": Self.text("0 2"),
      "g.txt": Self.text("1 1"),
    ])
    func eval(_ args: [String]) throws -> RunResult {
      try run(["eval"] + args.map { $0.hasSuffix(".txt") ? dir.appendingPathComponent($0).path : $0 })
    }
    let cases: [([String], String)] = [
      (["--logits-file", "x.txt", "--targets-file", "t.txt"], "t.txt: row 1: target 3 is not a class (0…2)"),
      (["--logits-file", "ragged.txt", "--targets-file", "ok.txt"], "ragged.txt: line 2 has 2 values"),
      (["--logits-file", "x.txt", "--targets-file", "t1.txt"], "t1.txt: 1 targets for 2 rows"),
      (["--logits-file", "nan.txt", "--targets-file", "ok.txt"], "nan.txt: row 1: logit 1 is NaN"),
      (["--logits-file", "x.txt", "--targets-file", "ok.txt", "--upstream-file", "g.txt"], "--reduction none"),
      (["--logits-file", "x.txt", "--reduction", "sum"], "need a batch (--targets-file)"),
      (["--logits", "1,2", "--targets-file", "ok.txt"], "--logits-file"),
    ]
    for (args, expected) in cases {
      let r = try eval(args)
      #expect(r.status != 0, "\(args)")
      #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
      #expect(r.stdout.isEmpty)
    }
  }

  /// `gradcheck` of a given batch: every element of the file's batch checked, per-row worst elements in the JSON, and
  /// a wrong element in it found (the hidden --corrupt option makes one element 1% off).
  @Test func gradcheckChecksAGivenBatch() throws {
    let dir = try Self.directory([
      "x.txt": Self.text("2 1 0.1 -1 0.5\n0.3 2.2 -0.7 1.1 0\n1000 1001 1002 999 998\n"), "t.txt": Self.text("0 1 4"),
      "g.txt": Self.text("0.5 2 1"), "ign.txt": Self.text("0 -100 4"),
    ])
    let files = [
      "--logits-file", dir.appendingPathComponent("x.txt").path, "--targets-file",
      dir.appendingPathComponent("t.txt").path,
    ]
    for precision in ["float64", "float32", "bfloat16", "float16"] {
      let r = try run(["gradcheck"] + files + ["--precision", precision, "--json"])
      #expect(r.status == 0, "\(precision): \(r.stderr)")
      let j = try Self.json(r.stdout)
      #expect(j["batch"] as? Int == 3 && j["classes"] as? Int == 5 && j["checked"] as? Int == 15)
      #expect((j["rows"] as? [[String: Any]])?.count == 3 && j["passed"] as? Bool == true)
    }
    let upstream = try run(["gradcheck"] + files + ["--upstream-file", dir.appendingPathComponent("g.txt").path])
    #expect(upstream.status == 0 && upstream.stdout.contains("g from"), "\(upstream.stderr)")
    let corrupt = try run(["gradcheck"] + files + ["--corrupt", "2,4"])
    #expect(corrupt.status == 1 && corrupt.stdout.contains("FAIL") && corrupt.stdout.contains("row 2, class 4"))
    let ignored = try run([
      "gradcheck", "--logits-file", dir.appendingPathComponent("x.txt").path, "--targets-file",
      dir.appendingPathComponent("ign.txt").path,
    ])
    #expect(ignored.status != 0 && ignored.stderr.contains("row 1 has the ignore index"))
    let shape = try run(["gradcheck"] + files + ["--batch", "3"])
    #expect(shape.status != 0 && shape.stderr.contains("has its own shape"))
  }

  @Test func noJacobianLeavesItOutOfASingleVector() throws {
    let with = try Self.json(try run(["eval", "--logits", "1,2,3", "--format", "json"]).stdout)
    let without = try Self.json(try run(["eval", "--logits", "1,2,3", "--format", "json", "--no-jacobian"]).stdout)
    #expect(with["jacobian"] != nil && without["jacobian"] == nil)
    #expect(without["gradient"] != nil)
  }
}
