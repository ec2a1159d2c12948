import Foundation
import SoftmaxCore
import Testing

@testable import SoftmaxTUI

@Test func dumpScratch() throws {
  guard ProcessInfo.processInfo.environment["DUMP"] == "1" else { return }
  var s = AppState(problem: try Problem(logits: [1, 2, 3], target: 0, precision: .bfloat16, softTarget: [0.2, 0.3, 0.5]).validated())
  s.screen = .stability
  for sec in StabilitySection.allCases {
    s.stabilitySection = sec
    var buf = Buffer(width: 0, height: 0)
    Frame.render(s, evaluation: nil, comparison: nil, into: &buf, width: 64, height: 20, context: RenderContext(unicode: false))
    print(buf.text)
  }
}
