import Foundation
import SoftmaxCore
import Testing

@testable import SoftmaxTUI

/// Builds an explorer on a validated problem.
func explorer(_ logits: [Double], target: Int = 0, precision: Precision = .float64) throws -> Explorer {
  Explorer(problem: try Problem(logits: logits, target: target, precision: precision).validated())
}

/// Sends keys (a string of characters, each a key press) to an explorer.
func type(_ keys: String, into e: inout Explorer) {
  for ch in keys { e.handle(.key(.character(ch))) }
}

/// Renders at a size and returns the buffer.
func screen(_ e: Explorer, _ w: Int = 120, _ h: Int = 40, _ ctx: RenderContext = RenderContext()) -> Buffer {
  var buf = Buffer(width: 0, height: 0)
  var ex = e
  ex.handle(.resize(width: w, height: h))
  ex.render(into: &buf, width: w, height: h, context: ctx)
  return buf
}

/// Compares text with a stored snapshot in `Snapshots/NAME.txt`. Set `SNAPSHOT_RECORD=1` to (re)write snapshots;
/// a missing snapshot is recorded once and the test fails so the new file gets looked at.
func assertSnapshot(_ text: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
  let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
  let file = dir.appendingPathComponent(name + ".txt")
  let record = ProcessInfo.processInfo.environment["SNAPSHOT_RECORD"] == "1"
  if record || !FileManager.default.fileExists(atPath: file.path) {
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try? (text + "\n").write(to: file, atomically: true, encoding: .utf8)
    if !record { Issue.record("recorded a new snapshot \(name); check it and rerun", sourceLocation: sourceLocation) }
    return
  }
  let expected = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
  if expected != text + "\n" {
    let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let b = (text + "\n").split(separator: "\n", omittingEmptySubsequences: false)
    var diff = ""
    for k in 0..<max(a.count, b.count) {
      let l = k < a.count ? String(a[k]) : "∅"
      let r = k < b.count ? String(b[k]) : "∅"
      if l != r { diff += "line \(k + 1):\n  expected: \(l)\n  actual:   \(r)\n" }
    }
    Issue.record("snapshot \(name) differs:\n\(diff)", sourceLocation: sourceLocation)
  }
}

/// The first (x, y) where `needle` appears in the buffer's text, if any.
func find(_ needle: String, in buf: Buffer) -> (x: Int, y: Int)? {
  for y in 0..<buf.height {
    let line = Array(buf.line(y).unicodeScalars)
    let n = Array(needle.unicodeScalars)
    guard n.count <= line.count else { continue }
    for x in 0...(line.count - n.count) where Array(line[x..<x + n.count]) == n { return (x, y) }
  }
  return nil
}
