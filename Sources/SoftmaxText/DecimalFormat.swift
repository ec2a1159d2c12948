import RealModule
import SoftmaxCore

/// Decimal formatting for the lab's numbers, without Foundation and without `String(format:)`.
///
/// Rounding is done in `Float80` (64-bit significand) on x86, so a `Double` prints with the digits correct rounding
/// gives (ties to even), e.g. `0.6652409557748219 → "0.6652"`.
public enum DecimalFormat {
  #if arch(x86_64) || arch(i386)
    @usableFromInline typealias Wide = Float80
  #else
    @usableFromInline typealias Wide = Double
  #endif

  /// `significant` digits (1...17), fixed-point for magnitudes in [0.001, 10^digits), scientific otherwise:
  /// `0.6652`, `2.408`, `-0.2447`, `4.248e-18`, `1.798e+308`, `inf`, `-inf`, `nan`, `0`.
  public static func significant(_ x: Double, digits: Int = 4) -> String {
    // At most 24 bytes (sign, 17 digits, point, "e-324"); assembled on the stack, so a result of up to 15 bytes (a
    // small string) costs no heap allocation at all.
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
      var n = 0
      write(x, digits: digits) { byte in
        buffer[n] = byte
        n += 1
      }
      return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<n]), as: UTF8.self)
    }
  }

  /// The same as `significant`, handing each ASCII byte to `emit` (no allocation). Recorded when a
  /// ``NumberRecorder`` is bound.
  public static func write(_ x: Double, digits requested: Int = 4, _ emit: (UInt8) -> Void) {
    let d = Swift.min(Swift.max(requested, 1), 17)
    guard let recorder = NumberRecorder.current else { return writeDigits(x, d, emit) }
    var text = ""
    writeDigits(x, d) { byte in
      text.unicodeScalars.append(Unicode.Scalar(byte))
      emit(byte)
    }
    recorder.record(x, text, .significant(d))
  }

  /// The digits of `write` (`d` in 1...17).
  private static func writeDigits(_ x: Double, _ d: Int, _ emit: (UInt8) -> Void) {
    if x.isNaN { return "nan".utf8.forEach(emit) }
    if x.sign == .minus { emit(UInt8(ascii: "-")) }
    if x.isInfinite { return "inf".utf8.forEach(emit) }
    if x == 0 { return emit(UInt8(ascii: "0")) }
    let a = Wide(abs(x))
    var e = Int(Double.log10(abs(x)).rounded(.down))
    var r = scaled(a, by: d - 1 - e).rounded(.toNearestOrEven)
    let top = pow10(d)
    if r >= top {
      e += 1
      r = scaled(a, by: d - 1 - e).rounded(.toNearestOrEven)
    } else if r < pow10(d - 1) {
      e -= 1
      r = scaled(a, by: d - 1 - e).rounded(.toNearestOrEven)
    }
    if r >= top {  // 9.9995 → 10.00: the carry added a digit
      e += 1
      r = pow10(d - 1)
    }
    // The d digits of r, most significant first.
    var digitsBuffer:
      (
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8
      ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    withUnsafeMutableBytes(of: &digitsBuffer) { buf in
      var v = UInt64(r)
      for k in stride(from: d - 1, through: 0, by: -1) {
        buf[k] = UInt8(ascii: "0") + UInt8(v % 10)
        v /= 10
      }
      if e >= -3 && e < d {
        if e < 0 {
          emit(UInt8(ascii: "0"))
          emit(UInt8(ascii: "."))
          for _ in 0..<(-e - 1) { emit(UInt8(ascii: "0")) }
          for k in 0..<d { emit(buf[k]) }
        } else {
          for k in 0..<d {
            if k == e + 1 { emit(UInt8(ascii: ".")) }
            emit(buf[k])
          }
        }
      } else {
        emit(buf[0])
        if d > 1 {
          emit(UInt8(ascii: "."))
          for k in 1..<d { emit(buf[k]) }
        }
        emit(UInt8(ascii: "e"))
        emit(UInt8(ascii: e < 0 ? "-" : "+"))
        let m = abs(e)
        if m >= 100 { emit(UInt8(ascii: "0") + UInt8(m / 100)) }
        emit(UInt8(ascii: "0") + UInt8((m / 10) % 10))
        emit(UInt8(ascii: "0") + UInt8(m % 10))
      }
    }
  }

  /// A short exact rendering for messages: the shortest round-trip digits, without a trailing `.0` (`1002`, `709.78`).
  public static func compact(_ x: Double) -> String {
    var s = x.description
    if s.hasSuffix(".0") { s.removeLast(2) }
    NumberRecorder.current?.record(x, s, .shortest(.float64))
    return s
  }

  /// `a·10^k`, exactly rounded when `10^|k|` is exact in `Wide` (|k| ≤ 27 for Float80).
  @usableFromInline static func scaled(_ a: Wide, by k: Int) -> Wide {
    k >= 0 ? a * pow10(k) : a / pow10(-k)
  }

  @usableFromInline static func pow10(_ k: Int) -> Wide {
    var result: Wide = 1
    var base: Wide = 10
    var n = k
    // Exact while the result fits the significand; beyond that the error stays far below a printed digit.
    while n > 0 {
      if n & 1 == 1 { result *= base }
      base *= base
      n >>= 1
    }
    return result
  }
}
