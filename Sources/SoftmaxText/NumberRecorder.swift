import Dispatch
import SoftmaxCore

/// Collects every number formatted for display, with the value it was formatted from, and the logical text lines the
/// views wrap, while one is bound to ``current`` (the screen-truth test binds one around a render). When none is bound
/// the formatting functions pay one task-local read per number and record nothing (no allocation).
///
/// Only the thread that bound the recorder records: task-local values are not seen by Dispatch workers, and no number is
/// formatted there.
public final class NumberRecorder: @unchecked Sendable {
  /// How a text was made from its value.
  public enum Form: Sendable, Hashable {
    /// ``DecimalFormat/write(_:digits:_:)`` with this many significant digits (1...17), correctly rounded.
    case significant(Int)
    /// The shortest digits that read back to the same value in this precision (``Precision/writeRoundTrip(_:to:)``).
    case shortest(Precision)
  }

  /// One formatted number.
  public struct Number: Sendable, Hashable {
    public var value: Double
    public var text: String
    public var form: Form

    public init(value: Double, text: String, form: Form) {
      self.value = value
      self.text = text
      self.form = form
    }
  }

  /// One logical line of text handed to a wrapping function, and the pieces it was wrapped into.
  public struct Line: Sendable, Hashable {
    public var text: String
    public var pieces: [String]
  }

  /// The recorder in use, if any.
  @TaskLocal public static var current: NumberRecorder?

  private let lock = DispatchSemaphore(value: 1)
  private var _numbers: [Number] = []
  private var _lines: [Line] = []

  public init() {}

  /// The numbers recorded so far, in order.
  public var numbers: [Number] {
    lock.wait()
    defer { lock.signal() }
    return _numbers
  }

  /// The wrapped lines recorded so far, in order.
  public var lines: [Line] {
    lock.wait()
    defer { lock.signal() }
    return _lines
  }

  public func record(_ value: Double, _ text: String, _ form: Form) {
    lock.wait()
    _numbers.append(Number(value: value, text: text, form: form))
    lock.signal()
  }

  public func record(line text: String, pieces: [String]) {
    lock.wait()
    _lines.append(Line(text: text, pieces: pieces))
    lock.signal()
  }
}
