// Reading and writing 1-D float arrays in NumPy's .npy format. Pure functions on bytes: no file I/O.
// Everything in the file is untrusted: sizes are checked with overflow-safe arithmetic, the header parser has a
// nesting limit, and nothing here traps on any input.

/// Parses and writes NumPy `.npy` files holding a 1-D array of float16, float32 or float64 values.
public enum NPYParser {
  /// The six magic bytes every .npy file starts with: "\x93NUMPY".
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

  /// The longest header accepted, in bytes (numpy itself refuses headers over 10,000 bytes by default).
  static let maximumHeaderLength = 65_536

  /// The floating-point element types accepted.
  enum FloatType {
    case float16, float32, float64
    /// Integer arrays (class indices): only where a caller asks for them.
    case int32, int64

    /// Bytes per element.
    var size: Int {
      switch self {
      case .float16: 2
      case .float32, .int32: 4
      case .float64, .int64: 8
      }
    }

    /// The name used in messages.
    var name: String {
      switch self {
      case .float16: "float16"
      case .float32: "float32"
      case .float64: "float64"
      case .int32: "int32"
      case .int64: "int64"
      }
    }
  }

  /// An array read from a .npy file: its shape (one or two dimensions) and its values, row by row.
  public struct Array2D: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Double]
    public init(shape: [Int], values: [Double]) {
      self.shape = shape
      self.values = values
    }
    /// Rows and columns (a 1-D array is one row).
    public var rows: Int { shape.count == 2 ? shape[0] : 1 }
    public var columns: Int { shape.last ?? 0 }
  }

  /// The most values a 2-D array may hold (4,096 × 32,768 = 2^27).
  public static let maximumBatchCount = 1 << 27

  /// Parses a NumPy .npy file (format versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY", two version bytes, the
  /// header length (u16 little-endian for v1, u32 for v2/v3), then a Python dict literal header with the keys
  /// 'descr', 'fortran_order' and 'shape', then the data.
  ///
  /// Accepted: a 1-D shape `(n,)` with 1 ≤ n ≤ `NumberListParser.maximumCount`; dtype '<f2', '<f4' or '<f8'
  /// (also with the native '=' or '|' byte-order marks, read as little-endian); fortran_order False or True (which
  /// makes no difference for 1-D data).
  ///
  /// Refused with a one-line `InputError`: a file shorter than the magic, bad magic bytes, an unsupported version,
  /// a header length beyond the end of the file or over 65,536 bytes, a header that is not a dict literal or lacks
  /// a key or has an unparsable shape, big-endian data, any other dtype (named in the message), 0-D and
  /// 2-D-or-higher shapes (named), an empty array, too many elements, and data shorter or longer than the header
  /// declares.
  ///
  /// - Returns: The values widened exactly to Double. NaN and infinities are returned as they are.
  public static func parse(_ bytes: [UInt8]) throws(InputError) -> [Double] {
    try parse(bytes, dimensions: 1, integers: false).values
  }

  /// ``parse(_:)`` for a batch: a 1-D or 2-D (C-order) array of floats or, with `integers`, of little-endian int32 or
  /// int64 values (class indices, returned as exact `Double`s); at most ``maximumBatchCount`` values.
  public static func parseArray(_ bytes: [UInt8], integers: Bool) throws(InputError) -> Array2D {
    try parse(bytes, dimensions: 2, integers: integers)
  }

  static func parse(_ bytes: [UInt8], dimensions: Int, integers: Bool) throws(InputError) -> Array2D {
    guard bytes.count >= magic.count else {
      throw InputError(
        "not a .npy file: only \(bytes.count) byte\(bytes.count == 1 ? "" : "s"), "
          + "shorter than the 6-byte magic \"\\x93NUMPY\"")
    }
    guard bytes.starts(with: magic) else {
      throw InputError("not a .npy file: bad magic bytes (a .npy file starts with \"\\x93NUMPY\")")
    }
    guard bytes.count >= 8 else {
      throw InputError("truncated .npy file: it ends before the 2 version bytes")
    }
    let major = bytes[6]
    let minor = bytes[7]
    guard minor == 0, (1...3).contains(major) else {
      throw InputError(
        "unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0 and 3.0)")
    }
    let lengthSize = major == 1 ? 2 : 4
    let headerStart = 8 + lengthSize
    guard bytes.count >= headerStart else {
      throw InputError(
        "truncated .npy file: it ends inside the \(lengthSize)-byte header length (only \(bytes.count) bytes)"
      )
    }
    var headerLength = 0
    for k in 0..<lengthSize {
      headerLength |= Int(bytes[8 + k]) << (8 * k)
    }
    let afterLength = bytes.count - headerStart
    guard headerLength <= afterLength else {
      throw InputError(
        "bad .npy header length \(headerLength): it goes beyond the end of the file "
          + "(only \(afterLength) bytes follow the length field)")
    }
    guard headerLength <= maximumHeaderLength else {
      throw InputError(
        "bad .npy header length \(headerLength): a 1-D array needs under 200 bytes, "
          + "and at most \(maximumHeaderLength) are accepted")
    }
    let dataStart = headerStart + headerLength
    let header = try parseHeader(bytes[headerStart..<dataStart], dimensions: dimensions, integers: integers)

    let type = header.type
    let count = header.shape.reduce(1, *)
    let available = bytes.count - dataStart
    // count ≤ 2^20 and size ≤ 8, so this cannot overflow; checked anyway.
    let (expected, overflow) = count.multipliedReportingOverflow(by: type.size)
    guard !overflow else {
      throw InputError(
        "too many values in the .npy file (the limit is \(NumberListParser.maximumCount))")
    }
    let plural = count == 1 ? "value" : "values"
    if available < expected {
      throw InputError(
        "truncated .npy data: expected \(expected) bytes (\(count) \(type.name) \(plural)) but found \(available)"
      )
    }
    if available > expected {
      throw InputError(
        "the .npy header does not match the data: it declares \(count) \(type.name) \(plural) (\(expected) bytes) "
          + "but \(available) data bytes follow; the header's shape is wrong or the file is corrupt"
      )
    }
    return Array2D(shape: header.shape, values: decode(bytes, from: dataStart, count: count, type: type))
  }

  /// Reads `count` little-endian values of `type` starting at byte `start` (already bounds-checked).
  static func decode(_ bytes: [UInt8], from start: Int, count: Int, type: FloatType) -> [Double] {
    bytes.withUnsafeBytes { raw -> [Double] in
      let data = UnsafeRawBufferPointer(rebasing: raw[start..<(start + count * type.size)])
      return [Double](unsafeUninitializedCapacity: count) { out, initialized in
        switch type {
        case .float64:
          for k in 0..<count {
            let bits = UInt64(
              littleEndian: data.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self))
            out[k] = Double(bitPattern: bits)
          }
        case .float32:
          for k in 0..<count {
            let bits = UInt32(
              littleEndian: data.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self))
            out[k] = Double(Float(bitPattern: bits))
          }
        case .float16:
          for k in 0..<count {
            let bits = UInt16(
              littleEndian: data.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))
            out[k] = doubleFromHalf(bits)
          }
        case .int32:
          for k in 0..<count {
            out[k] = Double(Int32(littleEndian: data.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)))
          }
        case .int64:
          // Class indices: any value beyond 2^53 is far outside every range and stays outside when widened.
          for k in 0..<count {
            out[k] = Double(Int64(littleEndian: data.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)))
          }
        }
        initialized = count
      }
    }
  }

  /// Widens an IEEE 754 binary16 bit pattern exactly to Double (NaNs are quieted, as hardware conversion does).
  static func doubleFromHalf(_ bits: UInt16) -> Double {
    #if !(arch(x86_64) && canImport(Darwin))
      return Double(Float16(bitPattern: bits))
    #else
      return doubleFromHalfBits(bits)
    #endif
  }

  /// A software binary16 → Double conversion, for platforms without `Float16` (Intel Macs).
  static func doubleFromHalfBits(_ bits: UInt16) -> Double {
    let negative = bits & 0x8000 != 0
    let exponent = Int((bits >> 10) & 0x1F)
    let fraction = UInt64(bits & 0x3FF)
    let magnitude: Double
    switch exponent {
    case 0:
      magnitude = Double(fraction) * 0x1p-24
    case 31:
      if fraction == 0 {
        magnitude = .infinity
      } else {
        let payload = 0x7FF0_0000_0000_0000 | (1 << 51) | (fraction << 42)
        return Double(bitPattern: (negative ? 1 << 63 : 0) | payload)
      }
    default:
      magnitude = Double(
        sign: .plus, exponent: exponent - 25, significand: Double(fraction | 0x400))
    }
    return negative ? -magnitude : magnitude
  }

  // MARK: - Header

  /// What the header says.
  struct Header {
    var type: FloatType
    var shape: [Int]
  }

  /// Parses and checks the header dict (of an array of at most `dimensions` dimensions; integer dtypes only with
  /// `integers`).
  static func parseHeader(
    _ text: ArraySlice<UInt8>, dimensions: Int = 1, integers: Bool = false
  ) throws(InputError) -> Header {
    var reader = PythonLiteralReader(bytes: text)
    let value = try reader.readTopLevel()
    guard case .dict(let entries) = value else {
      throw InputError(
        "bad .npy header: it is not a Python dict literal like {'descr': '<f8', ...}")
    }
    func entry(_ key: String) throws(InputError) -> PythonLiteral {
      guard let found = entries.last(where: { $0.key == key }) else {
        throw InputError("bad .npy header: it has no '\(key)' key")
      }
      return found.value
    }
    let type = try floatType(descr: try entry("descr"), integers: integers)
    guard case .bool(let fortran) = try entry("fortran_order") else {
      throw InputError("bad .npy header: 'fortran_order' must be True or False")
    }
    if dimensions == 1 { return Header(type: type, shape: [try elementCount(shape: try entry("shape"))]) }
    let shape = try batchShape(try entry("shape"))
    if fortran && shape.count == 2 && shape[0] > 1 && shape[1] > 1 {
      throw InputError(
        "the 2-D .npy array is in Fortran (column-major) order; save it in C order (np.ascontiguousarray(arr))")
    }
    return Header(type: type, shape: shape)
  }

  /// Interprets the 'descr' value; only little-endian (or native) float16/32/64 are accepted.
  static func floatType(descr: PythonLiteral, integers: Bool = false) throws(InputError) -> FloatType {
    let descrText: String
    switch descr {
    case .string(let s):
      descrText = s
    case .list:
      throw InputError(
        "unsupported dtype: a structured array (a record with named fields); save a plain 1-D float array "
          + "with dtype '<f8'")
    default:
      throw InputError("bad .npy header: 'descr' must be a dtype string like '<f8'")
    }
    let shown = NumberListParser.quote(Substring(descrText)).dropFirst().dropLast()
    guard descrText.utf8.count <= 32 else {
      throw InputError(
        "unsupported dtype '\(shown)' (unknown type); expected float64 '<f8', float32 '<f4' or float16 '<f2'"
      )
    }
    var scalars = Substring(descrText).unicodeScalars[...]
    var byteOrder: Unicode.Scalar = "="
    if let first = scalars.first, "<>=|!".unicodeScalars.contains(first) {
      byteOrder = first
      scalars = scalars.dropFirst()
    }
    let kind = scalars.first
    let sizeText = String(String.UnicodeScalarView(scalars.dropFirst()))
    let size: Int? = sizeText.utf8.count <= 4 ? Int(sizeText) : nil
    let bigEndian = byteOrder == ">" || byteOrder == "!"
    if integers, kind == "i", let size, size == 4 || size == 8 {
      if bigEndian { throw InputError("big-endian data is not supported; save with dtype '<i\(size)'") }
      return size == 4 ? .int32 : .int64
    }
    if kind == "f", let size, [2, 4, 8].contains(size) {
      if bigEndian {
        throw InputError("big-endian data is not supported; save with dtype '<f\(size)'")
      }
      switch size {
      case 2: return .float16
      case 4: return .float32
      default: return .float64
      }
    }
    let bits = size.map { $0 * 8 }
    let bitsText = bits.map { "\($0)-bit " } ?? ""
    let described: String
    switch kind {
    case "f":
      described =
        size == 12 || size == 16 ? "extended-precision float (long double)" : "\(bitsText)float"
    case "i": described = "\(bitsText)signed integer"
    case "u": described = "\(bitsText)unsigned integer"
    case "b", "?": described = "boolean"
    case "c": described = "\(bitsText)complex"
    case "O": described = "Python object"
    case "S", "a": described = "byte string"
    case "U": described = "Unicode string"
    case "V": described = "raw bytes (void)"
    case "M": described = "datetime64"
    case "m": described = "timedelta64"
    default: described = "unknown type"
    }
    throw InputError(
      "unsupported dtype '\(shown)' (\(described)); expected float64 '<f8', float32 '<f4' or float16 '<f2' "
        + "(convert with arr.astype('<f8'))")
  }

  /// Interprets the 'shape' value of a batch: (n,) or (rows, columns), none empty, at most ``maximumBatchCount``
  /// values.
  static func batchShape(_ shape: PythonLiteral) throws(InputError) -> [Int] {
    guard case .tuple(let items) = shape else {
      throw InputError("bad .npy header: 'shape' must be a tuple of non-negative integers like (128, 256)")
    }
    var dims: [Int] = []
    var texts: [String] = []
    for item in items {
      guard case .int(let text, let value) = item, !(text.hasPrefix("-") && value != 0) else {
        throw InputError("bad .npy header: 'shape' must be a tuple of non-negative integers like (128, 256)")
      }
      texts.append(text)
      dims.append(value ?? Int.max)
    }
    let shown = "(" + texts.prefix(8).joined(separator: ", ") + (texts.count == 1 ? ",)" : ")")
    guard (1...2).contains(dims.count) else {
      throw InputError(
        "the .npy file holds a \(dims.count)-D array with shape \(shown); expected a batch of shape (rows, classes)")
    }
    guard !dims.contains(0) else { throw InputError("the .npy array is empty (shape \(shown))") }
    var total = 1
    for d in dims {
      let (product, overflow) = total.multipliedReportingOverflow(by: d)
      guard !overflow, product <= maximumBatchCount else {
        throw InputError("too many values: shape \(shown) is more than the \(maximumBatchCount) (2^27) allowed")
      }
      total = product
    }
    return dims
  }

  /// Interprets the 'shape' value; only 1-D shapes (n,) with 1 ≤ n ≤ the limit are accepted.
  static func elementCount(shape: PythonLiteral) throws(InputError) -> Int {
    guard case .tuple(let items) = shape else {
      throw InputError(
        "bad .npy header: 'shape' must be a tuple of non-negative integers like (3,)")
    }
    var dimensions: [(text: String, value: Int?)] = []
    for item in items {
      guard case .int(let text, let value) = item else {
        throw InputError(
          "bad .npy header: 'shape' must be a tuple of non-negative integers like (3,)")
      }
      if text.hasPrefix("-") && value != 0 {
        throw InputError("bad .npy header: the shape has a negative dimension \(text)")
      }
      dimensions.append((text, value))
    }
    let shapeText: String
    switch dimensions.count {
    case 1: shapeText = "(\(dimensions[0].text),)"
    case 2...8: shapeText = "(" + dimensions.map(\.text).joined(separator: ", ") + ")"
    default: shapeText = "(" + dimensions.prefix(8).map(\.text).joined(separator: ", ") + ", …)"
    }
    switch dimensions.count {
    case 0:
      throw InputError(
        "the .npy file holds a 0-D array (a single scalar, shape ()); expected a 1-D array with shape (n,)"
      )
    case 1:
      break
    default:
      throw InputError(
        "the .npy file holds a \(dimensions.count)-D array with shape \(shapeText); expected a 1-D array with "
          + "shape (n,) (flatten it first, e.g. arr.reshape(-1))")
    }
    let limit = NumberListParser.maximumCount
    guard let count = dimensions[0].value, count <= limit else {
      throw InputError(
        "too many values: the .npy array has shape \(shapeText), more than the limit of \(limit) (2^20) values"
      )
    }
    guard count > 0 else {
      throw InputError("the .npy array is empty (shape (0,)); give at least one value")
    }
    return count
  }

  // MARK: - Encoding

  /// Writes a 1-D little-endian float64 .npy file (format 1.0; the header is padded with spaces and ends in '\n' so
  /// that the data starts at a multiple of 64 bytes).
  public static func encode(_ values: [Double]) -> [UInt8] {
    var out = prefix(descr: "<f8", count: values.count, dataBytes: values.count * 8)
    for value in values {
      appendLittleEndian(value.bitPattern, to: &out)
    }
    return out
  }

  /// Writes a 1-D little-endian float32 .npy file, laid out as `encode(_: [Double])` does.
  public static func encode(_ values: [Float]) -> [UInt8] {
    var out = prefix(descr: "<f4", count: values.count, dataBytes: values.count * 4)
    for value in values {
      appendLittleEndian(value.bitPattern, to: &out)
    }
    return out
  }

  #if !(arch(x86_64) && canImport(Darwin))
    /// Writes a 1-D little-endian float16 .npy file, laid out as `encode(_: [Double])` does.
    public static func encode(_ values: [Float16]) -> [UInt8] {
      var out = prefix(descr: "<f2", count: values.count, dataBytes: values.count * 2)
      for value in values {
        appendLittleEndian(value.bitPattern, to: &out)
      }
      return out
    }
  #endif

  /// Writes values of `precision` (held as `Double`) as a C-order .npy array of `shape`: '<f8' for float64, '<f4' for
  /// float32, '<f2' for float16, and '<f4' for bfloat16 (numpy has no bfloat16; every bfloat16 value is a float32
  /// exactly). Returns the bytes and the dtype written.
  public static func encode(_ values: [Double], shape: [Int], in precision: Precision) -> (
    bytes: [UInt8], dtype: String
  ) {
    switch precision {
    case .float64:
      var out = prefix(descr: "<f8", count: values.count, dataBytes: values.count * 8, shape: shape)
      for v in values { appendLittleEndian(v.bitPattern, to: &out) }
      return (out, "float64")
    case .float16:
      #if !(arch(x86_64) && canImport(Darwin))
        var out = prefix(descr: "<f2", count: values.count, dataBytes: values.count * 2, shape: shape)
        for v in values { appendLittleEndian(Float16(v).bitPattern, to: &out) }
        return (out, "float16")
      #else
        fallthrough
      #endif
    case .float32, .bfloat16:
      var out = prefix(descr: "<f4", count: values.count, dataBytes: values.count * 4, shape: shape)
      for v in values { appendLittleEndian(Float(v).bitPattern, to: &out) }
      return (out, "float32")
    }
  }

  /// Appends the little-endian bytes of `value`.
  @inline(__always)
  static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    var v = value
    for _ in 0..<(T.bitWidth / 8) {
      out.append(UInt8(truncatingIfNeeded: v))
      v >>= 8
    }
  }

  /// Magic, version 1.0, header length and the padded header, with capacity reserved for the data.
  static func prefix(descr: String, count: Int, dataBytes: Int, shape: [Int]? = nil) -> [UInt8] {
    let dims = shape ?? [count]
    let shapeText = dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
    let unpadded = magic.count + 2 + 2 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var out: [UInt8] = []
    out.reserveCapacity(magic.count + 4 + header.utf8.count + dataBytes)
    out += magic
    out += [1, 0]
    appendLittleEndian(UInt16(header.utf8.count), to: &out)
    out += Array(header.utf8)
    return out
  }
}

// MARK: - A small reader for the Python literals found in .npy headers

extension NPYParser {
  /// A Python literal: the subset that can appear in a .npy header.
  indirect enum PythonLiteral {
    case string(String)
    /// An integer: its text (sign and digits, no suffix) and its value if it fits in an Int.
    case int(text: String, value: Int?)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(key: String, value: PythonLiteral)])
  }

  /// Reads one Python literal from bytes, with a nesting limit so that hostile input cannot exhaust the stack.
  struct PythonLiteralReader {
    let bytes: ArraySlice<UInt8>
    var position: Int
    static let maximumDepth = 16

    init(bytes: ArraySlice<UInt8>) {
      self.bytes = bytes
      self.position = bytes.startIndex
    }

    /// Reads the whole header: one literal, then only whitespace (numpy pads with spaces and a final '\n').
    mutating func readTopLevel() throws(InputError) -> PythonLiteral {
      let value = try read(depth: 0)
      skipWhitespace()
      if position < bytes.endIndex {
        throw error("unexpected text after the dict")
      }
      return value
    }

    func error(_ what: String) -> InputError {
      InputError("bad .npy header: \(what) at header byte \(position - bytes.startIndex)")
    }

    var current: UInt8? { position < bytes.endIndex ? bytes[position] : nil }

    mutating func skipWhitespace() {
      while let b = current,
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C
      {
        position += 1
      }
    }

    /// A short, printable description of the byte at the current position.
    var currentDescription: String {
      guard let b = current else { return "end of header" }
      if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
      return "byte \(NumberListParser.hexByte(b))"
    }

    mutating func read(depth: Int) throws(InputError) -> PythonLiteral {
      guard depth < Self.maximumDepth else { throw error("nesting too deep") }
      skipWhitespace()
      guard let b = current else { throw error("unexpected end of header") }
      switch b {
      case UInt8(ascii: "'"), UInt8(ascii: "\""):
        return .string(try readString())
      case UInt8(ascii: "("):
        position += 1
        let (items, sawComma) = try readSequence(closer: UInt8(ascii: ")"), depth: depth)
        // Python: "(x)" is x itself; "(x,)" and "()" are tuples.
        if items.count == 1 && !sawComma { return items[0] }
        return .tuple(items)
      case UInt8(ascii: "["):
        position += 1
        return .list(try readSequence(closer: UInt8(ascii: "]"), depth: depth).items)
      case UInt8(ascii: "{"):
        position += 1
        return .dict(try readDict(depth: depth))
      case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return try readInt()
      default:
        if matchWord("True") { return .bool(true) }
        if matchWord("False") { return .bool(false) }
        if matchWord("None") { return .none }
        throw error("unexpected \(currentDescription)")
      }
    }

    mutating func matchWord(_ word: String) -> Bool {
      let w = Array(word.utf8)
      guard bytes.endIndex - position >= w.count,
        bytes[position..<(position + w.count)].elementsEqual(w)
      else {
        return false
      }
      let after = position + w.count
      if after < bytes.endIndex {
        let b = bytes[after]
        let isIdentifier =
          (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A)
          || b == UInt8(ascii: "_")
        if isIdentifier { return false }
      }
      position = after
      return true
    }

    mutating func readString() throws(InputError) -> String {
      guard let quote = current else { throw error("unexpected end of header") }
      position += 1
      let start = position
      while let b = current, b != quote {
        if b == 0x0A { throw error("unterminated string") }
        position += b == UInt8(ascii: "\\") ? 2 : 1
      }
      guard position < bytes.endIndex else {
        position = min(position, bytes.endIndex)
        throw error("unterminated string")
      }
      let text = String(decoding: bytes[start..<position], as: UTF8.self)
      position += 1
      return text
    }

    mutating func readInt() throws(InputError) -> PythonLiteral {
      var text = ""
      var negative = false
      if let b = current, b == UInt8(ascii: "-") || b == UInt8(ascii: "+") {
        negative = b == UInt8(ascii: "-")
        if negative { text = "-" }
        position += 1
        skipWhitespace()
      }
      var value: Int? = 0
      var digits = 0
      while let b = current, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") {
        let digit = Int(b - UInt8(ascii: "0"))
        if let v = value {
          let (times10, o1) = v.multipliedReportingOverflow(by: 10)
          let (sum, o2) = times10.addingReportingOverflow(digit)
          value = o1 || o2 ? nil : sum
        }
        if digits < 40 {
          text.append(Character(Unicode.Scalar(b)))
        } else if digits == 40 {
          text += "…"
        }
        digits += 1
        position += 1
      }
      guard digits > 0 else { throw error("expected digits but found \(currentDescription)") }
      // Python 2 long suffix, as written by old numpy versions: "3L".
      if let b = current, b == UInt8(ascii: "L") || b == UInt8(ascii: "l") {
        position += 1
      }
      if negative, let v = value { value = -v }
      return .int(text: text, value: value)
    }

    /// Reads comma-separated items up to `closer` (already past the opener). Allows one trailing comma.
    mutating func readSequence(closer: UInt8, depth: Int) throws(InputError) -> (
      items: [PythonLiteral], sawComma: Bool
    ) {
      var items: [PythonLiteral] = []
      var sawComma = false
      while true {
        skipWhitespace()
        if current == closer {
          position += 1
          return (items, sawComma)
        }
        items.append(try read(depth: depth + 1))
        skipWhitespace()
        if current == UInt8(ascii: ",") {
          sawComma = true
          position += 1
        } else if current != closer {
          throw error(
            "expected ',' or '\(Character(Unicode.Scalar(closer)))' but found \(currentDescription)"
          )
        }
      }
    }

    mutating func readDict(depth: Int) throws(InputError) -> [(key: String, value: PythonLiteral)] {
      var entries: [(key: String, value: PythonLiteral)] = []
      while true {
        skipWhitespace()
        if current == UInt8(ascii: "}") {
          position += 1
          return entries
        }
        guard current == UInt8(ascii: "'") || current == UInt8(ascii: "\"") else {
          throw error("expected a quoted key but found \(currentDescription)")
        }
        let key = try readString()
        skipWhitespace()
        guard current == UInt8(ascii: ":") else {
          throw error(
            "expected ':' after the key \(NumberListParser.quote(Substring(key))) but found \(currentDescription)"
          )
        }
        position += 1
        let value = try read(depth: depth + 1)
        entries.append((key, value))
        skipWhitespace()
        if current == UInt8(ascii: ",") {
          position += 1
        } else if current != UInt8(ascii: "}") {
          throw error("expected ',' or '}' but found \(currentDescription)")
        }
      }
    }
  }
}
