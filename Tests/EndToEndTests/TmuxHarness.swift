import Foundation
import Testing

/// The built `softmax-lab` binary, found beside the test bundle (`.build/<triple>/debug/`).
func softmaxLabBinary() throws -> String {
  var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  for _ in 0..<4 {
    let candidate = dir.appendingPathComponent("softmax-lab").path
    if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    dir = dir.deletingLastPathComponent()
  }
  let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent(".build/debug/softmax-lab").path
  guard FileManager.default.isExecutableFile(atPath: fallback) else {
    throw HarnessError("softmax-lab binary not found next to \(CommandLine.arguments[0])")
  }
  return fallback
}

struct HarnessError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}

/// Runs a command and returns (status, stdout, stderr).
///
/// Uses `posix_spawn` and `waitpid` with output in temporary files rather than Foundation's `Process` and pipes: a
/// tmux server started by `new-session` daemonizes and inherits its parent's descriptors, which keeps pipes (and
/// Foundation's own bookkeeping) open forever. Only descriptors 0–2 reach the child here.
@discardableResult
func run(_ executable: String, _ args: [String], stdinPath: String = "/dev/null") throws -> (Int32, String, String) {
  let tmp = FileManager.default.temporaryDirectory
  let outPath = tmp.appendingPathComponent("sml-run-\(UUID().uuidString).out").path
  let errPath = tmp.appendingPathComponent("sml-run-\(UUID().uuidString).err").path
  defer {
    unlink(outPath)
    unlink(errPath)
  }
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
  posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + args).map { strdup($0) } + [nil]
  defer { argv.forEach { free($0) } }
  // The test runner's threads block some signals (and may ignore others); a tmux server spawned with that mask would
  // pass it on to the program under test, which would then never see SIGWINCH. Start from a clean slate.
  var attr = posix_spawnattr_t()
  posix_spawnattr_init(&attr)
  defer { posix_spawnattr_destroy(&attr) }
  var empty = sigset_t()
  sigemptyset(&empty)
  posix_spawnattr_setsigmask(&attr, &empty)
  var defaults = sigset_t()
  sigfillset(&defaults)
  sigdelset(&defaults, SIGKILL)
  sigdelset(&defaults, SIGSTOP)
  posix_spawnattr_setsigdefault(&attr, &defaults)
  posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
  var pid: pid_t = 0
  let rc = posix_spawn(&pid, executable, &actions, &attr, argv, environ)
  guard rc == 0 else { throw HarnessError("cannot start \(executable): \(String(cString: strerror(rc)))") }
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
  let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
  let o = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
  let e = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
  return (code, o, e)
}

/// A tmux server of its own (private socket) with one window running bash, for driving the real program.
final class TmuxSession {
  let socket: String
  let name = "t"
  let dir: URL
  let binary: String

  init(width: Int = 120, height: Int = 40) throws {
    binary = try softmaxLabBinary()
    socket = "sml-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    dir = FileManager.default.temporaryDirectory.appendingPathComponent(socket)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try tmux([
      "new-session", "-d", "-s", name, "-x", String(width), "-y", String(height),
      "env -i PATH=/usr/bin:/bin HOME=\(dir.path) TERM=tmux-256color LANG=C.UTF-8 bash --norc --noprofile",
    ])
    try tmux(["set-option", "-t", name, "status", "off"])
    _ = try waitFor(timeout: 10) { _ in true }
  }

  deinit {
    _ = try? tmux(["kill-server"])
    try? FileManager.default.removeItem(at: dir)
  }

  @discardableResult
  func tmux(_ args: [String]) throws -> String {
    let (status, out, err) = try run("/usr/bin/tmux", ["-L", socket, "-f", "/dev/null"] + args)
    if status != 0 { throw HarnessError("tmux \(args.joined(separator: " ")) failed: \(err)") }
    return out
  }

  /// Types literal text (no key names).
  func type(_ text: String) throws { try tmux(["send-keys", "-t", name, "-l", text]) }
  /// Sends tmux key names (Enter, Escape, S-Up, C-c, …).
  func keys(_ names: String...) throws { try tmux(["send-keys", "-t", name] + names) }

  /// The visible screen as text.
  func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", name]) }

  /// Polls the screen until `condition` holds; returns the screen, or throws with the last screen seen.
  @discardableResult
  func waitFor(timeout: Double = 10, _ condition: (String) -> Bool) throws -> String {
    let deadline = Date().addingTimeInterval(timeout)
    var last = ""
    while Date() < deadline {
      last = try screen()
      if condition(last) { return last }
      usleep(50_000)
    }
    throw HarnessError("timed out; the screen was:\n\(last)")
  }

  @discardableResult
  func waitFor(_ text: String, timeout: Double = 10) throws -> String {
    try waitFor(timeout: timeout) { $0.contains(text) }
  }

  /// A file in the session's temporary folder.
  func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

  func read(_ name: String) -> String? {
    try? String(contentsOfFile: path(name), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Waits until a file exists (the shell writes it after the program exits).
  func waitForFile(_ name: String, timeout: Double = 10) throws -> String {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if let s = read(name), !s.isEmpty { return s }
      usleep(50_000)
    }
    throw HarnessError("\(name) never appeared; the screen was:\n\((try? screen()) ?? "")")
  }

  /// Starts the program from the pane's shell, recording `stty -g` before and after and the exit status.
  func launch(_ arguments: String) throws {
    let cmd =
      "cd \(dir.path); stty -g > stty.before; \(binary) \(arguments); echo $? > status; stty -g > stty.after; "
      + "tput cnorm >/dev/null 2>&1; echo DONE"
    try type(cmd)
    try keys("Enter")
  }

  /// The process id of the program running in the pane (a child of the pane's shell).
  func programPID() throws -> Int32 {
    let shell = try tmux(["display-message", "-p", "-t", name, "#{pane_pid}"]).trimmingCharacters(
      in: .whitespacesAndNewlines)
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
      let (_, out, _) = try run("/usr/bin/pgrep", ["-P", shell, "-f", "softmax-lab"])
      if let pid = Int32(out.split(separator: "\n").first ?? "") { return pid }
      usleep(50_000)
    }
    throw HarnessError("program not found under shell \(shell)")
  }

  /// tmux's view of the pane: alternate screen on, cursor visible.
  func paneFlags() throws -> (alternate: Bool, cursorVisible: Bool) {
    let s = try tmux(["display-message", "-p", "-t", name, "#{alternate_on} #{cursor_flag}"])
      .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
    return (s.first == "1", s.last == "1")
  }
}
