import Foundation
import SoftmaxCore
import SoftmaxLesson
import SoftmaxTUI
import Testing

@testable import softmax_lab

/// Session files through the command line and on disk: `--load`, `eval --load`, the last session and `--resume`.
@Suite struct SessionTests {
  static func temporaryDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sml-session-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  static func sessionFile(in dir: String, _ problem: Problem) throws -> String {
    let path = dir + "/s.json"
    let state = AppState(problem: try problem.validated())
    try SessionJSON.encode(state.session).write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func evalLoadGivesTheSameReportAsTheOptions() throws {
    let dir = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = try Self.sessionFile(in: dir, .init(logits: [1, -2.5, 3], target: 1, temperature: 0.5))
    let binary = try softmaxLabBinary()
    let (s1, loaded, e1) = try run(binary, ["eval", "--load", path, "--format", "json"])
    let (s2, given, _) = try run(
      binary, ["eval", "--logits=1,-2.5,3", "--target", "1", "--temperature", "0.5", "--format", "json"])
    #expect(s1 == 0 && s2 == 0, "\(e1)")
    #expect(loaded == given)
    #expect(loaded.contains("\"temperature\": 0.5") || loaded.contains("\"temperature\":0.5"), "\(loaded)")
  }

  @Test func aBadSessionFileIsRefusedInOneLineNamingIt() throws {
    let dir = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/bad.json"
    try "{\"format\": \"softmax-lab-session\", \"version\": 1, \"logits\": [1, 2]}".write(
      toFile: path, atomically: true, encoding: .utf8)
    let binary = try softmaxLabBinary()
    for args in [["eval", "--load", path], ["--load", path], ["explore", "--load", path]] {
      let (status, out, err) = try run(binary, args)
      #expect(status == 64, "\(args)")
      #expect(out.isEmpty)
      #expect(err.contains("Error: \(path): missing key 'target'"), "\(err)")
    }
    let (status, _, err) = try run(binary, ["eval", "--load", path, "--target", "1"])
    #expect(status == 64)
    #expect(err.contains("--load takes the whole problem from \(path); do not give --target with it"), "\(err)")
    let (missing, _, err2) = try run(binary, ["eval", "--load", dir + "/none.json"])
    #expect(missing == 64)
    #expect(err2.contains("cannot read \(dir)/none.json: No such file or directory"), "\(err2)")
  }

  @Test func theStateDirectoryFollowsXDG() {
    #expect(
      SessionStore.lastPath(environment: ["XDG_STATE_HOME": "/x/state", "HOME": "/h"])
        == "/x/state/softmax-lab/last.json")
    #expect(
      SessionStore.lastPath(environment: ["XDG_STATE_HOME": "relative", "HOME": "/h"])
        == "/h/.local/state/softmax-lab/last.json")
    #expect(SessionStore.lastPath(environment: ["HOME": "/h"]) == "/h/.local/state/softmax-lab/last.json")
  }

  @Test func aCorruptLastSessionIsKeptAsideNeverOverwritten() throws {
    let dir = try Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let env = ["XDG_STATE_HOME": dir]
    let last = dir + "/softmax-lab/last.json"
    // No file yet: resume says so and starts fresh.
    let (none, line) = SessionStore.resume(environment: env)
    #expect(none == nil)
    #expect(line == "no saved session at \(last); starting fresh")

    try FileManager.default.createDirectory(atPath: dir + "/softmax-lab", withIntermediateDirectories: true)
    try "not json at all".write(toFile: last, atomically: true, encoding: .utf8)
    let (fresh, message) = SessionStore.resume(environment: env)
    #expect(fresh == nil)
    #expect(message == "\(last): not valid JSON (not a softmax-lab session); kept as \(last).corrupt-1, starting fresh")
    #expect(try String(contentsOfFile: last + ".corrupt-1", encoding: .utf8) == "not json at all")
    #expect(!FileManager.default.fileExists(atPath: last))

    // A quit over another corrupt file keeps that one too (as .corrupt-2), then writes the session.
    try "{\"format\": \"other\"}".write(toFile: last, atomically: true, encoding: .utf8)
    var state = AppState(problem: try Problem(logits: [4, 5, 6], target: 1).validated())
    state.screen = .derivation
    #expect(SessionStore.saveLast(state.session, environment: env) == nil)
    #expect(try String(contentsOfFile: last + ".corrupt-2", encoding: .utf8) == "{\"format\": \"other\"}")
    #expect(try String(contentsOfFile: last + ".corrupt-1", encoding: .utf8) == "not json at all")
    let (resumed, note) = SessionStore.resume(environment: env)
    #expect(note == "resumed \(last)")
    #expect(resumed?.session == state.session)
    // A readable last session is simply replaced.
    state.selection = 2
    #expect(SessionStore.saveLast(state.session, environment: env) == nil)
    #expect(SessionStore.resume(environment: env).0?.selection == 2)
    #expect(!FileManager.default.fileExists(atPath: last + ".corrupt-3"))
  }
}
