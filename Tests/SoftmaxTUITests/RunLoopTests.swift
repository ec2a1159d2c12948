import SoftmaxCore
import Testing

@testable import SoftmaxTUI

/// The real run loop (`Explorer.run(on:)`), driven headless through `HeadlessTerminal`: events, waits and signals on
/// a virtual clock, and the screen the loop's frames put together cell by cell.
@Suite struct RunLoopTests {
  static func explorer(_ logits: [Double] = [1, 2, 3], target: Int = 0) throws -> Explorer {
    Explorer(problem: try Problem(logits: logits, target: target).validated())
  }

  /// What `explorer` renders at the terminal's size: what the screen must show after the loop's last frame.
  static func rendered(_ explorer: Explorer, on t: HeadlessTerminal) -> [Cell] {
    var buffer = Buffer(width: t.width, height: t.height)
    explorer.render(
      into: &buffer, width: t.width, height: t.height,
      context: RenderContext(colorMode: t.colorMode, unicode: t.unicode, theme: .dark))
    return buffer.cells
  }

  static func noExport(_: Evaluation) -> StatusMessage { StatusMessage("no export here", isError: true) }

  @Test func anEditTypedThroughTheLoopIsOnScreen() throws {
    var explorer = try Self.explorer()
    // Select x_1, open its edit line, clear the pre-filled "2", type 5.5, confirm. The script then ends: a hang-up.
    let t = HeadlessTerminal(
      script: [.event(.key(.down)), .event(.key(.enter)), .event(.key(.backspace))] + HeadlessTerminal.typing("5.5\n"))
    let status = explorer.run(on: t, export: Self.noExport)
    #expect(status == 128 + 1)
    #expect(t.stopped)
    #expect(explorer.state.problem.logits == [1, 5.5, 3])
    #expect(t.text.contains("x_1 = 5.5"), "\(t.text)")
    // The screen put together from the frames' changed cells is exactly the last frame.
    #expect(t.cells == Self.rendered(explorer, on: t) ? true : false, "the screen is not the last frame")
  }

  @Test func theTerminalCursorFollowsTheEditLineAndAPasteGoesIn() throws {
    // Open x_1's line (pre-filled 2): the cursor is after it on the status line.
    var a = try Self.explorer()
    let open = HeadlessTerminal(script: [.event(.key(.down)), .event(.key(.enter)), .event(.key(.left))])
    _ = a.run(on: open, export: Self.noExport)
    #expect(open.row(23).hasPrefix(" edit x_1 = 2 "))
    #expect(open.cursor?.x == " edit x_1 = ".count && open.cursor?.y == 23, "\(String(describing: open.cursor))")
    // A paste through the loop replaces the selected pre-fill; Enter confirms; the cursor is hidden again.
    var b = try Self.explorer()
    let paste = HeadlessTerminal(
      script: [.event(.key(.down)), .event(.key(.enter)), .event(.paste("4.25\n")), .event(.key(.enter))])
    _ = b.run(on: paste, export: Self.noExport)
    #expect(b.state.problem.logits == [1, 4.25, 3])
    #expect(paste.cursor == nil)
    #expect(paste.text.contains("x_1 = 4.25"))
  }

  @Test func quitEndsWithStatusZeroAndASignalWith128PlusIt() throws {
    var a = try Self.explorer()
    let quit = HeadlessTerminal(script: [.event(.key(.down)), .event(.key(.character("q")))])
    #expect(a.run(on: quit, export: Self.noExport) == 0)
    #expect(quit.stopped)

    var b = try Self.explorer()
    let term = HeadlessTerminal(script: [.event(.key(.down)), .wait(30), .signal(15), .event(.key(.down))])
    #expect(b.run(on: term, export: Self.noExport) == 128 + 15)
    #expect(term.stopped)
    // The key after the signal is never handled.
    #expect(b.state.selection == 1)
  }

  @Test func eventsWaitingAreDrawnOnceAndOnlyChangedCellsAreSent() throws {
    var explorer = try Self.explorer()
    let t = HeadlessTerminal(
      script: [.event(.key(.down)), .event(.key(.down)), .event(.key(.up)), .wait(50), .event(.key(.down))])
    _ = explorer.run(on: t, export: Self.noExport)
    // The first frame, one for the three keys waiting together, one for the last key.
    #expect(t.frames == 3)
    #expect(explorer.state.selection == 2)
    // The first frame is sent whole; the two others only the cells a selection move changes.
    #expect(t.cellsSent > 80 * 24)
    #expect(t.cellsSent < 80 * 24 + 2 * 80 * 12, "\(t.cellsSent) cells sent")
    #expect(t.cells == Self.rendered(explorer, on: t) ? true : false, "the screen is not the last frame")
  }

  @Test func ticksKeepTheirRhythmOnTheVirtualClock() throws {
    var explorer = try Self.explorer()
    // The Descent screen, run at 8 steps per second for one second: eight ticks, eight steps.
    let t = HeadlessTerminal(script: [.event(.key(.character("4"))), .event(.key(.character(" "))), .wait(1000)])
    _ = explorer.run(on: t, export: Self.noExport)
    #expect(explorer.state.descent.running)
    #expect(explorer.state.descent.steps == 8)
    #expect(t.milliseconds == 1000)
    #expect(t.cells == Self.rendered(explorer, on: t) ? true : false, "the screen is not the last frame")
  }

  @Test func aResizeAndALostScreenAreRedrawnWhole() throws {
    var explorer = try Self.explorer()
    let t = HeadlessTerminal(script: [.resize(width: 120, height: 40), .wait(10), .loseScreen])
    _ = explorer.run(on: t, export: Self.noExport)
    #expect((explorer.state.width, explorer.state.height) == (120, 40))
    #expect((t.width, t.height) == (120, 40))
    // The lost screen was filled with "?" by the backend; the frame after it must have replaced every cell.
    #expect(t.cells == Self.rendered(explorer, on: t) ? true : false, "the screen is not the last frame")
    #expect(t.frames == 3)
  }

  @Test func anExportIsHandedToTheCallerAndItsLineShown() throws {
    var explorer = try Self.explorer()
    var exported: [Double] = []
    let t = HeadlessTerminal(script: [.event(.key(.character("w")))])
    _ = explorer.run(on: t) { evaluation in
      exported = evaluation.softmax
      return StatusMessage("wrote example.md")
    }
    #expect(exported == Evaluation(explorer.state.problem).softmax)
    #expect(!explorer.state.exportRequested)
    #expect(t.text.contains("wrote example.md"))
  }

  @Test func aSaveHandsTheWholeSessionToTheCallerAndItsLineIsShown() throws {
    var explorer = try Self.explorer([1000, 1001, 1002], target: 2)
    var saved: [Session] = []
    // float32, then bfloat16 (which rounds 1001 and 1002 to 1000), the Stability lab, row 1, then W.
    let t = HeadlessTerminal(
      script: HeadlessTerminal.typing("pp3") + [.event(.key(.up)), .event(.key(.character("W")))])
    _ = explorer.run(on: t, export: Self.noExport) { session in
      saved.append(session)
      return StatusMessage("saved s.json")
    }
    #expect(saved.count == 1)
    #expect(saved.first?.logits == [1000, 1001, 1002])
    #expect(saved.first?.precision == .bfloat16)
    #expect(saved.first?.screen == .stability)
    #expect(saved.first?.selection == 1)
    #expect(explorer.state.problem.logits == [1000, 1000, 1000])
    #expect(!explorer.state.saveRequested)
    #expect(t.text.contains("saved s.json"), "\(t.text)")
  }

  @Test func withoutASaveCallbackTheKeySaysSo() throws {
    var explorer = try Self.explorer()
    let t = HeadlessTerminal(script: [.event(.key(.character("W")))])
    _ = explorer.run(on: t, export: Self.noExport)
    #expect(t.text.contains("cannot save here"))
  }
}
