// TEMPORARY STUB
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
public enum NumberListParser {
  public static let maximumCount = 1 << 20
  public static func parseList(_ text: String, what: String = "logit") throws(InputError) -> [Double] {
    try text.split(whereSeparator: { $0 == "," || $0 == " " }).map { t throws(InputError) in
      guard let v = Double(t) else { throw InputError("bad \(t)") }
      return v
    }
  }
}
