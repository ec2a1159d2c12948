import RealModule

/// A floating-point type the softmax core can compute in.
///
/// Every formula in `SoftmaxCore` is written once against this protocol and runs in `Float16`, `BFloat16` (emulated),
/// `Float`, `Double`, and — as a high-precision reference — `Float80` where the platform has it.
public protocol SoftmaxScalar: Real, BinaryFloatingPoint, Sendable, CustomStringConvertible {
  /// The value as a `Double`: exact for every format but `Float80`, which it rounds.
  var double: Double { get }
  /// The value of this format nearest to `value` (ties to even).
  ///
  /// These two concrete conversions exist because the generic `BinaryFloatingPoint` initializers are not
  /// specialised across modules and cost microseconds each (measured: 7 µs per element for `BFloat16`).
  init(rounding value: Double)
}

extension SoftmaxScalar {
  /// Converts between two formats through `Double`, which holds every value of the narrower ones exactly; rounding
  /// happens once (`Float80` → `Double` is the only narrowing that goes through it, and it rounds correctly).
  @inlinable @inline(__always)
  public init<Other: SoftmaxScalar>(converting value: Other) { self.init(rounding: value.double) }
}

extension Float: SoftmaxScalar {
  @inlinable public var double: Double { Double(self) }
  @inlinable public init(rounding value: Double) { self.init(value) }
}
extension Double: SoftmaxScalar {
  @inlinable public var double: Double { self }
  @inlinable public init(rounding value: Double) { self = value }
}
#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
  extension Float16: SoftmaxScalar {
    @inlinable public var double: Double { Double(self) }
    @inlinable public init(rounding value: Double) { self.init(value) }
  }
#endif
#if (arch(i386) || arch(x86_64)) && !os(Windows) && !os(Android)
  extension Float80: SoftmaxScalar {
    @inlinable public var double: Double { Double(self) }
    @inlinable public init(rounding value: Double) { self.init(value) }
  }
#endif
extension BFloat16: SoftmaxScalar {
  @inlinable public var double: Double { Double(self) }
  @inlinable public init(rounding value: Double) { self.init(value) }
}

extension Array where Element: SoftmaxScalar {
  /// The values converted to `Double` (exact for every precision the lab uses).
  @inlinable public var doubles: [Double] {
    if let same = self as? [Double] { return same }  // float64: share the storage, no copy
    return map { $0.double }
  }
}
