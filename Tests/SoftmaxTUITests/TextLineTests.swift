import SoftmaxCore
import Testing

@testable import SoftmaxTUI

@Suite("TextLine")
struct TextLineTests {
  @Test func compact() {
    #expect(TextLine(compact: 1.0).description == "1")
    #expect(TextLine(compact: 0.24472847105479765).description == "0.24472847105479764")
    var t = TextLine()
    let n = allocations { Precision.float64.writeRoundTrip(0.24472847105479765, to: &t) }
    #expect(n == 0)
  }
}
