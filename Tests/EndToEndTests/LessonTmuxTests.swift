import Foundation
import Testing

/// A lesson in a real terminal: a step that waits for its key, and a question answered wrong and then right.
@Suite("Lessons in a real terminal (tmux)", .serialized)
struct LessonTmuxTests {
  @Test func aPressStepAndAnAskStep() throws {
    let t = try TmuxSession(width: 120, height: 40)
    try """
    # Class 3

    ## Take a step
    ```state
    logits: [1, 2, 3]
    target: 0
    ```
    Press s and watch the loss fall.
    > press: s
    > expect: loss < 2.408

    ## Your turn
    What is the gradient of the target's logit?
    > ask: gradient[0]
    """.write(toFile: t.path("l.md"), atomically: true, encoding: .utf8)
    try t.launch("lesson l.md")
    try t.waitFor("Lesson 1/2: Take a step")
    try t.waitFor("▸ press s (the lesson waits for it)")
    try t.type("N")
    try t.waitFor("this step waits for you to press s")
    try t.type("s")
    try t.waitFor("✓ pressed s")
    try t.waitFor("stepped: loss 2.408 → 2.276")
    try t.type("N")
    var screen = try t.waitFor("Question: what is gradient[0]?")
    #expect(!screen.contains("0.9100"))
    try t.type("0.91")
    try t.keys("Enter")
    try t.waitFor("✗ 0.91 is not gradient[0]: try again (N skips)")
    try t.tmux(["send-keys", "-t", t.name, "-l", "--", "-0.91"])
    try t.keys("Enter")
    screen = try t.waitFor("✓ right: gradient[0] = −0.9100")
    #expect(screen.contains("∂l/∂x_0 = (s_0 − y_0) = (0.09003 − 1.000) = −0.9100"))
    try t.type("N")
    try t.waitFor("lesson finished — score 0/1 right at the first try")
    try t.type("q")
    #expect(try t.waitForFile("status") == "0")
    try t.waitFor("Class 3: 0/1 right at the first try")
  }
}
