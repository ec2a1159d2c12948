import CNcursesw
import Foundation
import SoftmaxCore
import SoftmaxReport
import SoftmaxTUI

/// Runs the interactive explorer on a terminal and returns the process exit status.
///
/// Prints one line and returns 1 when there is no terminal. Export (`w`) and save (`W`) requests are carried out here,
/// the only place with file I/O: the Markdown worked example or the session is written to a temporary file and renamed
/// into place. Outside the tour, the session at the end (a quit or a signal) is saved for `--resume`.
func runExplorer(
  state: AppState, noColor: Bool, ascii: Bool, theme: Theme, tour: Bool, atExit: (AppState) -> Void = { _ in }
) -> Int32 {
  sml_tune_malloc()
  let terminal: NcursesTerminal
  do {
    terminal = try NcursesTerminal(options: TerminalOptions(noColor: noColor, asciiOnly: ascii))
  } catch {
    FileHandle.standardError.write(Data("softmax-lab: \(error)\n".utf8))
    return 1
  }
  var explorer = Explorer(state: state)
  if tour { explorer.perform(.tourNext) }
  let status = explorer.run(
    on: terminal, theme: theme, export: { Exporter.export($0) }, save: { SessionStore.save($0) })
  atExit(explorer.state)
  if !tour, let failure = SessionStore.saveLast(explorer.state.session) {
    FileHandle.standardError.write(Data("softmax-lab: \(failure)\n".utf8))
  }
  return status
}

/// Writes worked examples to Markdown files, atomically.
enum Exporter {
  /// Writes `softmax-lab-example-N.md` (the first N not taken) in the current directory.
  static func export(_ ev: Evaluation, directory: String = FileManager.default.currentDirectoryPath) -> StatusMessage {
    let path = AtomicFile.firstFree(in: directory, "softmax-lab-example", "md")
    do {
      try AtomicFile.write(Report.markdown(ev), to: path)
      return StatusMessage("wrote \(path)")
    } catch {
      return StatusMessage("export failed: \(String(describing: error))", isError: true)
    }
  }
}

/// Writing a file so that readers see either the old content or the new, never half of it.
enum AtomicFile {
  struct WriteError: Error, CustomStringConvertible {
    var description: String
  }

  /// `DIRECTORY/STEM-N.EXTENSION` for the first N from 1 that names no file (at most 10,000 are tried).
  static func firstFree(in directory: String, _ stem: String, _ ext: String) -> String {
    var n = 1
    var path = "\(directory)/\(stem)-1.\(ext)"
    while FileManager.default.fileExists(atPath: path) && n < 10_000 {
      n += 1
      path = "\(directory)/\(stem)-\(n).\(ext)"
    }
    return path
  }

  /// Writes `text` to a temporary file beside `path`, flushes it, and renames it over `path`.
  /// On failure the temporary file is removed and any existing file at `path` is left untouched.
  static func write(_ text: String, to path: String) throws { try write(Array(text.utf8), to: path) }

  /// ``write(_:to:)`` for bytes.
  static func write(_ bytes: [UInt8], to path: String) throws {
    // Past a file-size limit (`ulimit -f`, a quota-like full disk) write() would raise SIGXFSZ and kill the process,
    // losing the session and leaving the terminal in program mode; ignored, write() fails with EFBIG and is reported.
    signal(SIGXFSZ, SIG_IGN)
    let dir = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    let temp = (dir.isEmpty ? "." : dir) + "/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else {
      throw WriteError(description: "cannot write in \(dir.isEmpty ? "." : dir): \(String(cString: strerror(errno)))")
    }
    var ok = true
    var reason = ""
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
      if n <= 0 {
        ok = false
        reason = String(cString: strerror(errno))
        break
      }
      offset += n
    }
    if ok && fsync(fd) != 0 {
      ok = false
      reason = String(cString: strerror(errno))
    }
    close(fd)
    if ok && rename(temp, path) != 0 {
      ok = false
      reason = String(cString: strerror(errno))
    }
    if !ok {
      unlink(temp)
      throw WriteError(description: "could not write \(path): \(reason); the old file (if any) is unchanged")
    }
  }
}
