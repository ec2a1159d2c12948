import Foundation
import Testing

/// Whether `python3` can import numpy (the article's batch check needs it; `.ci/run` installs it).
let numpyAvailable: Bool = {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = ["python3", "-c", "import numpy"]
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  do {
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus == 0
  } catch {
    return false
  }
}()

@Suite("The index-notation article's batch check")
struct ArticleCheckTests {
  /// `examples/article_check.py`: the article's 128×256 batch through `softmax-lab eval` once, against numpy's
  /// implementation of its formula (and torch when installed). Skipped, saying so, without numpy; in CI it must run.
  @Test func theArticlesBatchAgreesWithNumpy() throws {
    guard numpyAvailable else {
      if ProcessInfo.processInfo.environment["CI"] != nil {
        Issue.record("numpy is not installed: .ci/run installs it")
      } else {
        print("skipped: numpy is not installed, so examples/article_check.py cannot run")
      }
      return
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [
      "python3", root.appendingPathComponent("examples/article_check.py").path, "--binary", try labBinary().path,
    ]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "\(text)")
    #expect(text.contains("gradient vs numpy") && text.contains("(agrees"), "\(text)")
    #expect(!text.contains("DIFFERS"), "\(text)")
  }
}
