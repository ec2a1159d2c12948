import Foundation
import SoftmaxCore
import SoftmaxTUI

/// Session files as JSON text: the coding of ``Session`` and its refusals in one line. No file I/O (the command line
/// reads and writes the files).
public enum SessionJSON {
  /// The session as pretty-printed JSON with sorted keys (ends with a newline).
  public static func encode(_ session: Session) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    // Every value of a session encodes (non-finite logits are strings); an error here would be a bug.
    guard let data = try? encoder.encode(session), let text = String(data: data, encoding: .utf8) else {
      preconditionFailure("a session that does not encode")
    }
    return text + "\n"
  }

  /// The session in `bytes`, or a ``SessionError`` with one line saying what is wrong (not JSON, not a session, a key
  /// of the wrong type, an unknown key, a newer version).
  public static func decode(_ bytes: [UInt8]) throws(SessionError) -> Session {
    if bytes.isEmpty { throw SessionError("the file is empty (not a softmax-lab session)") }
    do {
      return try JSONDecoder().decode(Session.self, from: Data(bytes))
    } catch let error as SessionError {
      throw error
    } catch let error as DecodingError {
      throw SessionError(describe(error))
    } catch {
      throw SessionError("cannot read it: \(error)")
    }
  }

  /// The state in `bytes`: ``decode(_:)`` and then ``SoftmaxTUI/AppState/init(session:)``, every value validated.
  public static func state(_ bytes: [UInt8]) throws(SessionError) -> AppState {
    try AppState(session: decode(bytes))
  }

  /// A decoding error in one line, naming the key.
  static func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
      let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
      return keys.isEmpty ? "" : "key '\(keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "["))': "
    }
    func name(_ type: Any.Type) -> String {
      switch type {
      case is Int.Type: "an integer"
      case is Double.Type: "a number"
      case is String.Type: "a string"
      case is Bool.Type: "true or false"
      default: String(describing: type).hasPrefix("Array") ? "a list" : "an object"
      }
    }
    switch error {
    case .keyNotFound(let key, let context):
      return "\(path(context))missing key '\(key.stringValue)'"
    case .typeMismatch(_, let context) where context.codingPath.isEmpty:
      return "not a softmax-lab session (expected a JSON object)"
    case .typeMismatch(let type, let context):
      return "\(path(context))expected \(name(type))"
    case .valueNotFound(let type, let context):
      return "\(path(context))expected \(name(type)), found null"
    case .dataCorrupted(let context):
      if context.codingPath.isEmpty { return "not valid JSON (not a softmax-lab session)" }
      return "\(path(context))\(context.debugDescription)"
    @unknown default:
      return "cannot read it: \(error)"
    }
  }
}
