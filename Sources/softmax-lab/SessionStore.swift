import Foundation
import SoftmaxCore
import SoftmaxLesson
import SoftmaxTUI

/// Session files on disk: `--load`, the `W` key, and the last session a quit leaves for `--resume`.
///
/// Every write is atomic (``AtomicFile``); a file that cannot be read as a session is never overwritten without a copy:
/// it is renamed aside first and kept.
enum SessionStore {
  /// `$XDG_STATE_HOME/softmax-lab` (the XDG base directory specification: only an absolute path counts), else
  /// `~/.local/state/softmax-lab`.
  static func stateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
    if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return xdg + "/softmax-lab" }
    let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    return home + "/.local/state/softmax-lab"
  }

  /// Where a quit leaves the session.
  static func lastPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
    stateDirectory(environment: environment) + "/last.json"
  }

  /// The state in the session file at `path`, or one line naming the file and the problem.
  static func load(_ path: String) throws(InputError) -> AppState {
    let bytes = try InputOptions.readFile(path)
    do {
      return try SessionJSON.state(bytes)
    } catch {
      throw InputError("\(path): \(error.message)")
    }
  }

  /// What `--resume` starts from: the last session, or nil and the line to show when there is none or it is unusable.
  /// An unusable file is renamed aside (kept) and the line says where.
  static func resume(environment: [String: String] = ProcessInfo.processInfo.environment) -> (AppState?, String?) {
    let path = lastPath(environment: environment)
    guard FileManager.default.fileExists(atPath: path) else {
      return (nil, "no saved session at \(path); starting fresh")
    }
    do {
      return (try load(path), "resumed \(path)")
    } catch {
      let kept = setAside(path)
      let where_ = kept.map { "kept as \($0)" } ?? "left where it is"
      return (nil, "\(error.message); \(where_), starting fresh")
    }
  }

  /// Saves the session a quit leaves behind. A file already there that is not a readable session is renamed aside
  /// first. Returns the line to show when something went wrong.
  static func saveLast(
    _ session: Session, environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> String? {
    let path = lastPath(environment: environment)
    let dir = stateDirectory(environment: environment)
    do {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    } catch {
      return "cannot save the session: cannot create \(dir)"
    }
    if FileManager.default.fileExists(atPath: path), (try? load(path)) == nil {
      guard setAside(path) != nil else { return "cannot save the session: \(path) is unreadable and cannot be kept" }
    }
    do {
      try AtomicFile.write(SessionJSON.encode(session), to: path)
      return nil
    } catch {
      return "cannot save the session: \(error)"
    }
  }

  /// Writes `softmax-lab-session-N.json` (the first N not taken) in `directory` (for `W`).
  static func save(_ session: Session, directory: String = FileManager.default.currentDirectoryPath) -> StatusMessage {
    let path = AtomicFile.firstFree(in: directory, "softmax-lab-session", "json")
    do {
      try AtomicFile.write(SessionJSON.encode(session), to: path)
      return StatusMessage("saved \((path as NSString).lastPathComponent) (softmax-lab --load it)")
    } catch {
      return StatusMessage("save failed: \(String(describing: error))", isError: true)
    }
  }

  /// Renames `path` to `path.corrupt-N` (the first N not taken, never over another file); the new path, or nil.
  static func setAside(_ path: String) -> String? {
    for n in 1..<10_000 {
      let candidate = "\(path).corrupt-\(n)"
      if FileManager.default.fileExists(atPath: candidate) { continue }
      // link + unlink, not rename: rename would replace a file that appeared meanwhile.
      if link(path, candidate) == 0 {
        unlink(path)
        return candidate
      }
      if errno != EEXIST { return rename(path, candidate) == 0 ? candidate : nil }
    }
    return nil
  }
}
