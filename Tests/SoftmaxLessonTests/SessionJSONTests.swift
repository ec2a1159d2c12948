import SoftmaxCore
import Testing

@testable import SoftmaxLesson
@testable import SoftmaxTUI

/// Session files: every field survives JSON exactly, and anything that is not a valid session is refused in one line.
@Suite struct SessionJSONTests {
  static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

  /// A state with every saved field away from its default, seen through a bfloat16 lens that rounds the entered
  /// logits [1000, 1001, 1002] to [1000, 1000, 1000].
  static func busyState() throws -> AppState {
    var s = AppState(problem: try Problem(logits: [1000, 1001, 1002], target: 2).validated())
    s.apply(.cyclePrecision)  // float32
    s.apply(.cyclePrecision)  // bfloat16
    s.apply(.beginEdit(.temperature))
    s.edit?.text = "1.7"
    s.apply(.editConfirm)
    s.apply(.beginEdit(.labelSmoothing))
    s.edit?.text = "0.1"
    s.apply(.editConfirm)
    s.apply(.beginEdit(.learningRate))
    s.edit?.text = "0.3"
    s.apply(.editConfirm)
    s.apply(.beginEdit(.upstream))
    s.edit?.text = "-2.5"
    s.apply(.editConfirm)
    s.apply(.showScreen(.stability))
    s.apply(.selectRow(1))
    s.apply(.setCursor(i: 0, n: 2))
    s.apply(.toggleDigits)
    s.apply(.scaleNudgeStep(0.5))
    return s
  }

  @Test func everyFieldSurvivesARoundTripIncludingTheEnteredValuesUnderABFloat16Lens() throws {
    let state = try Self.busyState()
    #expect(state.problem.precision == .bfloat16)
    #expect(state.problem.logits == [1000, 1000, 1000])
    #expect(state.entered.logits == [1000, 1001, 1002])
    // 1.7 and 0.1 are not bfloat16 numbers: the lens shows 1.703125 and 0.10009765625 and keeps what was typed.
    #expect(state.problem.temperature == 1.703125)
    #expect(state.entered.temperature == 1.7)
    #expect(state.entered.labelSmoothing == 0.1)
    #expect(state.problem.labelSmoothing == 0.10009765625)

    let text = SessionJSON.encode(state.session)
    let restored = try SessionJSON.state(Self.bytes(text))
    #expect(restored.session == state.session)
    #expect(restored.problem == state.problem)
    #expect(restored.entered == state.entered)
    #expect(restored.screen == .stability)
    #expect(restored.selection == 1)
    #expect((restored.cursorI, restored.cursorN) == (0, 2))
    #expect(restored.fullDigits)
    #expect(restored.nudgeStep == 0.25)
    #expect(restored.entered.upstream == -2.5 && restored.entered.learningRate == 0.3)
    // Cycling on to float64 shows what was entered, as it would have before the save.
    var back = restored
    back.apply(.cyclePrecision)
    back.apply(.cyclePrecision)
    #expect(back.problem.precision == .float64)
    #expect(back.problem.logits == [1000, 1001, 1002])
    #expect(back.problem.temperature == 1.7)
  }

  @Test func theFileIsReadableJSONWithTheEnteredValues() throws {
    let text = SessionJSON.encode(try Self.busyState().session)
    #expect(text.contains("\"format\" : \"softmax-lab-session\""))
    #expect(text.contains("\"version\" : 1"))
    #expect(text.contains("1001"))
    #expect(text.contains("\"precision\" : \"bfloat16\""))
    #expect(text.contains("\"screen\" : \"stability\""))
    #expect(text.contains("\"temperature\" : 1.7"))
  }

  @Test func maskedClassesSoftTargetsAndAwkwardDoublesAreKeptBitForBit() throws {
    let awkward = [0.1, -.infinity, 0x1p-1074, 1.0000000000000002, -123456.789e-10, 0x1.fffffffffffffp+9]
    let p = Problem(
      logits: awkward, target: 3, softTarget: [0.1, 0.2, 0.3, 0.15, 0.05, 0.2], learningRate: 0.07)
    let state = AppState(problem: try p.validated())
    let restored = try SessionJSON.state(Self.bytes(SessionJSON.encode(state.session)))
    #expect(restored.problem.logits.map(\.bitPattern) == awkward.map(\.bitPattern))
    #expect(restored.problem.softTarget == [0.1, 0.2, 0.3, 0.15, 0.05, 0.2])
    #expect(restored.problem.learningRate == 0.07)
    #expect(SessionJSON.encode(state.session).contains("\"-inf\""))
  }

  /// A valid session as text, with `change` applied to its lines.
  static func variant(_ change: (String) -> String) throws -> [UInt8] {
    let s = AppState(problem: try Problem(logits: [1, 2, 3], target: 0).validated())
    return bytes(change(SessionJSON.encode(s.session)))
  }

  static func refusal(_ bytes: [UInt8]) -> String? {
    do {
      _ = try SessionJSON.state(bytes)
      return nil
    } catch {
      return error.message
    }
  }

  @Test func foreignAndCorruptFilesAreRefusedInOneLineNamingTheProblem() throws {
    let cases: [([UInt8], String)] = [
      ([], "the file is empty (not a softmax-lab session)"),
      (Self.bytes("{\"logits\": [1, 2"), "not valid JSON (not a softmax-lab session)"),
      ([0xff, 0xfe, 0x00, 0x01, 0x93], "not valid JSON (not a softmax-lab session)"),
      (Self.bytes("[1, 2, 3]"), "not a softmax-lab session (expected a JSON object)"),
      (
        Self.bytes("{\"precision\": \"float64\", \"classes\": 3}"),
        "not a softmax-lab session (no \"format\": \"softmax-lab-session\" key)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "softmax-lab-session", with: "jupyter") },
        "not a softmax-lab session (\"format\" is \"jupyter\", expected \"softmax-lab-session\")"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 9") },
        "key 'version': version 9 is newer than this softmax-lab reads (1)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 1, \"colour\": 3") },
        "unknown key 'colour'"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"target\" : 0", with: "\"target\" : \"zero\"") },
        "key 'target': expected an integer"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"target\" : 0,", with: "") },
        "missing key 'target'"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"target\" : 0", with: "\"target\" : 7") },
        "target 7 is out of range for 3 classes (expected 0...2)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"float64\"", with: "\"float8\"") },
        "key 'precision': 'float8' is not a precision (float64, float32, bfloat16, float16)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"explore\"", with: "\"batch\"") },
        "key 'screen': 'batch' is not a screen (explore, derivation, stability, descent)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"selection\" : 0", with: "\"selection\" : -1") },
        "selection -1 is out of range for 3 classes (expected 0...2)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"temperature\" : 1", with: "\"temperature\" : 0") },
        "temperature 0 must be a finite number > 0"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"float64\"", with: "\"float16\"") }
          .map { $0 }.replacing(Self.bytes("    1,\n"), with: Self.bytes("    100000,\n")),
        "logit 0 = 100000 is not finite in float16 (largest finite value 65504.0)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "    1,\n", with: "    \"nan\",\n") },
        "logit 0 is NaN: not allowed (use -inf to mask a class)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "    1,\n", with: "    \"one\",\n") },
        "key 'logits': 'one' is not a number (only \"-inf\" may be a string)"
      ),
      (
        try Self.variant { $0.replacingOccurrences(of: "\"step_size\" : 0.5", with: "\"step_size\" : 1e300") },
        "step size 1e+300 must be in 2^-20…2^20"
      ),
    ]
    for (bytes, expected) in cases {
      let message = Self.refusal(bytes)
      #expect(message == expected)
      #expect(message?.contains("\n") == false)
    }
  }
}
