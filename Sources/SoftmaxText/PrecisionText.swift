public import SoftmaxCore

extension Precision {
  /// ``Precision/shortest(_:)``, recorded for the screen-truth test when a ``NumberRecorder`` is bound.
  public func roundTrip(_ x: Double) -> String {
    let text = shortest(x)
    NumberRecorder.current?.record(x, text, .shortest(self))
    return text
  }

  /// ``Precision/writeShortest(_:to:)``, recorded as ``roundTrip(_:)`` is.
  public func writeRoundTrip(_ x: Double, to target: inout some TextOutputStream) {
    if let recorder = NumberRecorder.current { recorder.record(x, shortest(x), .shortest(self)) }
    writeShortest(x, to: &target)
  }
}
