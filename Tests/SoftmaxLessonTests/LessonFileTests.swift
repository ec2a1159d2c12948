import SoftmaxCore
import Testing

@testable import SoftmaxLesson
@testable import SoftmaxTUI

/// Lesson files: parsing, the claim language, and what `lesson --check` finds.
@Suite struct LessonFileTests {
  static func parse(_ text: String) -> Result<LessonFile, LessonIssues> { LessonParser.parse(Array(text.utf8)) }

  /// The problems of `text`, parsed and checked, as `lesson --check` prints them for a file named `l.md`.
  static func problems(_ bytes: [UInt8]) -> [String] {
    switch LessonParser.parse(bytes) {
    case .failure(let issues): return issues.issues.map { $0.described(file: "l.md") }
    case .success(let file): return LessonChecker.check(file).map { $0.described(file: "l.md") }
    }
  }
  static func problems(_ text: String) -> [String] { problems(Array(text.utf8)) }

  @Test func aShortLessonParsesWithStatesCarriedFromStepToStep() throws {
    let text = """
      # Two steps

      ## First
      ```state
      logits: [1000, 1001, 1002]
      target: 2
      precision: float32
      screen: stability
      temperature: 2
      select: 1
      ```
      The **naive** sum `overflows`: $e^{1002}$ is inf.
      > press: p
      > expect: softmax[2] > 0.3

      ## Second
      ```state
      logits: [1, 2, 3]
      ```
      Same knobs, new logits.
      > ask: gradient[1]
      """
    let file = try Self.parse(text).get()
    #expect(file.lesson.title == "Two steps")
    #expect(file.lesson.steps.map(\.title) == ["First", "Second"])
    let first = file.lesson.steps[0]
    #expect(first.text == "The naive sum overflows: e^{1002} is inf.")
    #expect(first.press == .character("p"))
    #expect(first.expects == ["softmax[2] > 0.3"])
    #expect(first.line == 3)
    #expect(first.setup.problem == Problem(logits: [1000, 1001, 1002], target: 2, precision: .float32, temperature: 2))
    #expect(first.setup.screen == .stability && first.setup.selection == 1)
    // Unset keys keep the previous step's values: target, precision, screen, τ and the selection.
    let second = file.lesson.steps[1]
    #expect(second.setup.problem == Problem(logits: [1, 2, 3], target: 2, precision: .float32, temperature: 2))
    #expect(second.setup.screen == .stability && second.setup.selection == 1)
    #expect(second.ask == .gradient(1))
    #expect(file.asks[1]?.quantity == .gradient(1))
    #expect(file.asks[1]?.line == 21)
    #expect(LessonChecker.check(file).isEmpty)
  }

  @Test func theClaimLanguage() throws {
    let c = try Claim(parsing: "gradient[1] == -0.5 ± 1e-3")
    #expect(c.quantity == .gradient(1) && c.op == .equal && c.value == -0.5 && c.tolerance == 1e-3)
    #expect(c.holds(for: -0.5009) && !c.holds(for: -0.502))
    #expect(try Claim(parsing: "loss < 0.01").holds(for: 0.009))
    #expect(try !Claim(parsing: "loss < 0.01").holds(for: 0.01))
    #expect(try Claim(parsing: "loss <= 0.01").holds(for: 0.01))
    #expect(try Claim(parsing: "jacobian[0][2] >= -1").quantity == .jacobian(0, 2))
    #expect(try Claim(parsing: "softmax_naive[0] == nan").holds(for: .nan))
    #expect(try !Claim(parsing: "softmax_naive[0] != nan").holds(for: .nan))
    #expect(try Claim(parsing: "sigma_naive == inf").holds(for: .infinity))
    #expect(try Claim(parsing: "x == 1 +- 0.5".replacingOccurrences(of: "x", with: "lse")).holds(for: 1.4))
    let refusals: [(String, String)] = [
      ("loss", "'loss' has no comparison (expected QUANTITY < VALUE, with <, <=, >, >=, == or !=)"),
      ("lose < 1", "'lose' is not a quantity (expected one of \(Quantity.names))"),
      ("softmax < 1", "'softmax' takes one index, as in softmax[0]"),
      ("loss[1] < 1", "'loss' is one number: it takes no index"),
      ("softmax[-1] < 1", "'softmax[-1]': the index '-1' is not a class number (0, 1, 2, …)"),
      ("jacobian[1] < 1", "'jacobian' takes two indices, as in jacobian[0][2]"),
      ("loss < lots", "the value 'lots' is not a number"),
      ("loss < 1 ± 0.1", "a tolerance goes only with == and !="),
      ("loss == 1 ± -1", "the tolerance must be a finite number >= 0"),
    ]
    for (text, message) in refusals {
      #expect(throws: InputError(message)) { try Claim(parsing: text) }
    }
  }

  @Test func hostileLessonsGetLineNumberedMessagesAndNoTrap() {
    let cases: [(String, [String])] = [
      (
        "## A\n```state\nlogits: [1, 2\n```\n",
        ["l.md:4: not valid YAML: while parsing a flow sequence: did not find expected ',' or ']'"]
      ),
      (
        "## A\n```state\nlogits: [1, 2]\ncolour: red\n```\n",
        [
          "l.md:4: key 'colour': unknown key (expected logits, target, precision, screen, temperature, "
            + "label_smoothing, soft_target, upstream, learning_rate, select, cursor, section, digits)"
        ]
      ),
      (
        "## A\n```state\nlogits: [1, two]\nprecision: float8\ntemperature: 0\n```\n",
        [
          // The bad logits and precision are not taken, so the state is checked with the others.
          "l.md:2: key 'temperature': temperature 0 must be a finite number > 0",
          "l.md:3: key 'logits': logit 1: \"two\" is not a number (expected a decimal like -1.5, 2e3, or -inf for a "
            + "masked class)",
          "l.md:4: key 'precision': 'float8' is not a precision (float64, float32, bfloat16, float16)",
        ]
      ),
      (
        "## A\n```state\nlogits: [1, 2]\ntarget: 5\n```\n",
        ["l.md:2: key 'target': target 5 is out of range for 2 classes (expected 0...1)"]
      ),
      (
        "## A\n```state\nlogits: [70000, 1]\nprecision: float16\n```\n",
        ["l.md:2: key 'logits': logit 0 = 70000 is not finite in float16 (largest finite value 65504.0)"]
      ),
      (
        "## A\n```state\nlogits: [1, 2, 3]\n```\n> expect: loss < 0.01\n> expect: softmax[7] > 0\n",
        [
          "l.md:5: claim 'loss < 0.01' is false: loss = 2.40760596444438",
          "l.md:6: claim 'softmax[7] > 0': softmax[7]: index 7 is out of range for 3 classes (expected 0...2)",
        ]
      ),
      (
        "## A\n> press: N\n> press: Hyper\n> frobnicate: 3\n> expect: loss\n",
        [
          "l.md:2: 'N' is the lesson's next: a step cannot ask for it",
          "l.md:3: 'Hyper' is not a key (one character, or Enter, Tab, Space, Esc, Backspace, Up, Down, Left, Right)",
          "l.md:4: unknown directive '> frobnicate:' (expected press, expect or ask)",
          "l.md:5: claim: 'loss' has no comparison (expected QUANTITY < VALUE, with <, <=, >, >=, == or !=)",
        ]
      ),
      ("## A\n> press: z\n", ["l.md:2: 'z' does nothing on the explore screen"]),
      ("## A\n```state\nlogits: [1]\n", ["l.md:2: a fenced block that is never closed (no ``` after it)"]),
      ("just prose, no steps\n", ["l.md:1: no steps: a lesson needs at least one '## ' heading"]),
      ("```state\nlogits: [1]\n```\n", ["l.md:1: a state block before the first step (start a step with '## Title')"]),
      ("## A\n```state\n- 1\n- 2\n```\n", ["l.md:3: a state block is a YAML mapping (key: value lines)"]),
      (
        "## A\n" + String(repeating: "word ", count: 300),
        [
          "l.md:1: the step's prose is 1499 bytes; the lesson box holds 1000 (split it into two steps)"
        ]
      ),
    ]
    for (text, expected) in cases {
      #expect(Self.problems(text) == expected, "\(text)")
    }
  }

  @Test func hugeAndBinaryFilesAreRefusedWithoutReadingThemAsLessons() {
    let huge = Array(repeating: UInt8(ascii: "a"), count: 10 << 20)
    #expect(Self.problems(huge) == ["l.md:1: the file is 10485760 bytes, more than the 1 MiB a lesson may be"])
    #expect(
      Self.problems([0x23, 0x20, 0x41, 0x0a, 0x0a, 0x00, 0x01]) == ["l.md:3: a NUL byte: this is not a text file"])
    #expect(
      Self.problems(Array("## A\nok\n".utf8) + [0xff, 0xfe, 0x93, 0x0a])
        == ["l.md:3: not UTF-8 text: this is not a lesson file"])
    // Seeded garbage of every byte value: one line, never a trap.
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    for _ in 0..<50 {
      var bytes: [UInt8] = []
      for _ in 0..<400 {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes.append(UInt8(truncatingIfNeeded: seed >> 33))
      }
      let found = Self.problems(bytes)
      #expect(!found.isEmpty)
      #expect(found.allSatisfy { $0.hasPrefix("l.md:") && !$0.contains("\n") })
    }
  }

  @Test func theBuiltInTourAndTheExamplesHold() {
    let tour = BuiltInLessons.tour
    #expect(tour.lesson.steps.count == 11)
    #expect(tour.lesson.label == "Tour")
    #expect(tour.claims.reduce(0) { $0 + $1.count } == 19)
    #expect(LessonChecker.check(tour).isEmpty)
  }

  @Test func aStepThatWaitsForItsKeyRemindsThenGoesOn() throws {
    let file = try Self.parse("## A\n> press: s\n\n## B\nnext\n").get()
    var start = AppState(problem: try Problem(logits: [1, 2, 3]).validated())
    start.lesson = file.lesson
    var e = Explorer(state: start)
    e.perform(.tourNext)
    e.handle(.key(.character("N")))
    #expect(e.state.tourStep == 0)
    #expect(e.state.message?.text == "this step waits for you to press s")
    e.handle(.key(.character("s")))
    #expect(e.state.lessonKeyPressed)
    #expect(e.state.problem.logits != [1, 2, 3])  // s took its step
    e.handle(.key(.character("N")))
    #expect(e.state.tourStep == 1)
    #expect(!e.state.lessonKeyPressed)
    e.handle(.key(.character("N")))
    #expect(e.state.tourStep == nil && e.state.lesson == nil)
    #expect(e.state.message?.text == "lesson finished — keep exploring, or q to quit")
  }
}
