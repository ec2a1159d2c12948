import CNcursesw
import Foundation
import SoftmaxCore
import SoftmaxTUI

/// Times what one keystroke costs in the explorer: `update` (with the evaluation it triggers), rendering the whole
/// screen into a buffer, and the run loop's `FrameSender` sending the changed cells (to a terminal in memory).
///
/// The keystroke alternates `+` and `-` on the selected logit, so every frame recomputes the evaluation — the most
/// expensive kind of key (cursor moves only re-render). At 131,072 classes the Stability lab is also timed with the
/// largest logit moved to class 0 and selected ("stability, M moves"): then every edit moves the maximum `M`, every
/// trusted exponential must be taken again, and so must every online term after it — the worst case of an update.
enum FrameBenchmark {
  static let sizes: [(Int, Int)] = [(80, 24), (120, 40), (200, 60)]
  /// The largest (the explorer's limit) is left out of `--quick`.
  static let classCounts = [3, 64, 131_072, 1_048_576]

  static func run(quick: Bool) -> [FrameResult] {
    sml_tune_malloc()  // as the explorer does
    var results: [FrameResult] = []
    for c in classCounts where !quick || c < 1_000_000 {
      let logits = c == 3 ? [1.0, 2, 3] : SeededRandom.logits(count: c, seed: 11, scale: 2)
      guard let problem = try? Problem(logits: logits, target: c / 2).validated() else { continue }
      if c > 1000 { results.append(firstFrame(problem)) }
      for screen in Screen.allCases {
        for (w, h) in sizes {
          let frames = quick ? (c > 1000 ? 5 : 40) : (c > 1_000_000 ? 7 : c > 1000 ? 21 : 301)
          results.append(measure(problem, screen: screen, width: w, height: h, frames: frames))
        }
      }
      if c > 1000, let k = problem.logits.indices.max(by: { problem.logits[$0] < problem.logits[$1] }) {
        var first = problem
        first.logits.swapAt(0, k)
        for (w, h) in sizes {
          results.append(
            measure(
              first, screen: .stability, width: w, height: h, frames: quick ? 5 : c > 1_000_000 ? 7 : 21,
              onMaximum: true))
        }
      }
    }
    return results
  }

  /// The explorer's start: the first evaluation and the first frame of the Explore screen at 120×40 (one sample).
  static func firstFrame(_ problem: Problem) -> FrameResult {
    let start = DispatchTime.now().uptimeNanoseconds
    var explorer = Explorer(problem: problem)
    explorer.handle(.resize(width: 120, height: 40))
    var buffer = Buffer(width: 120, height: 40)
    explorer.render(into: &buffer, width: 120, height: 40, context: RenderContext(colorMode: .extended, unicode: true))
    let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    return FrameResult(view: "first frame", width: 120, height: 40, classes: problem.classes, msMedian: ms, msP99: ms)
  }

  static func measure(
    _ problem: Problem, screen: Screen, width: Int, height: Int, frames: Int, onMaximum: Bool = false
  ) -> FrameResult {
    var explorer = Explorer(problem: problem)
    explorer.handle(.resize(width: width, height: height))
    explorer.perform(.showScreen(screen))
    if onMaximum { explorer.perform(.selectRow(0)) }
    let context = RenderContext(colorMode: .extended, unicode: true)
    // The run loop's own frame sender, to a terminal in memory: the diff and the cells it sends are the real ones.
    let terminal = HeadlessTerminal(width: width, height: height, script: [])
    var sender = FrameSender()
    var current = Buffer(width: width, height: height)
    explorer.render(into: &current, width: width, height: height, context: context)
    sender.send(current, to: terminal)
    var times: [Double] = []
    times.reserveCapacity(frames)
    var changedCells = 0
    for k in 0..<frames {
      let start = DispatchTime.now().uptimeNanoseconds
      explorer.handle(.key(.character(k % 2 == 0 ? "+" : "-")))
      current.clear(width: width, height: height)
      explorer.render(into: &current, width: width, height: height, context: context)
      changedCells &+= sender.send(current, to: terminal)
      times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    times.sort()
    let median = times[times.count / 2]
    let p99 = times[Swift.min(times.count - 1, Int((Double(times.count) * 0.99).rounded(.up)) - 1)]
    // Keep the diff result observable so the work is not optimised away.
    if changedCells == Int.min { print("") }
    return FrameResult(
      view: screen.title.lowercased() + (onMaximum ? ", M moves" : ""), width: width, height: height,
      classes: problem.classes, msMedian: median,
      msP99: p99)
  }

  /// The process's peak resident memory so far, for the report.
  static func memoryNote() -> String {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return "max RSS of this bench process (including the 131,072-class frames): \(usage.ru_maxrss / 1024) MB"
  }
}
