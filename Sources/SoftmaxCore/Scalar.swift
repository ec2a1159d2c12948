import RealModule

/// A floating-point type the softmax core can compute in.
///
/// Every formula in `SoftmaxCore` is written once against this protocol and runs in `Float16`, `BFloat16` (emulated),
/// `Float`, `Double`, and — as a high-precision reference — `Float80` where the platform has it.
public protocol SoftmaxScalar: Real, BinaryFloatingPoint, Sendable, CustomStringConvertible {}

extension Float: SoftmaxScalar {}
extension Double: SoftmaxScalar {}
#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
  extension Float16: SoftmaxScalar {}
#endif
#if (arch(i386) || arch(x86_64)) && !os(Windows) && !os(Android)
  extension Float80: SoftmaxScalar {}
#endif
extension BFloat16: SoftmaxScalar {}

extension Array where Element: BinaryFloatingPoint {
  /// The values converted to `Double` (exact for every precision the lab uses).
  @inlinable public var doubles: [Double] { map { Double($0) } }
}
