import SoftmaxCore
import Testing

@testable import SoftmaxTUI

@Suite("Explore view")
struct ExploreViewTests {
  @Test func printIt() throws {
    let e = try explorer([1, 2, 3], target: 0)
    print(screen(e, 120, 40).text)
    print(screen(e, 80, 24).text)
  }
}
