import Foundation
import Testing

/// `softmax-lab lesson --check` on the shipped lessons and on bad ones, through the real binary.
@Suite struct LessonCLITests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  @Test(arguments: [
    ("Sources/SoftmaxLesson/Resources/tour.md", "11 steps, 19 claims hold"),
    ("examples/lessons/index-notation.md", "8 steps, 11 claims hold"),
    ("examples/lessons/stability.md", "6 steps, 12 claims hold"),
  ])
  func theShippedLessonsPassTheCheck(_ lesson: (String, String)) throws {
    let path = Self.root.appendingPathComponent(lesson.0).path
    let (status, out, err) = try run(try softmaxLabBinary(), ["lesson", "--check", path])
    #expect(status == 0, "\(err)")
    #expect(out == "\(path): \(lesson.1)\n")
    #expect(err.isEmpty)
  }

  @Test func aBadLessonFailsTheCheckWithFileAndLine() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sml-lesson-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = dir.appendingPathComponent("bad.md").path
    try "# Bad\n\n## One\n```state\nlogits: [1, 2, 3]\ntarget: 2\n```\n> press: s\n> expect: loss > 1\n".write(
      toFile: bad, atomically: true, encoding: .utf8)
    let (status, out, err) = try run(try softmaxLabBinary(), ["lesson", "--check", bad])
    #expect(status == 1)
    #expect(out.isEmpty)
    // The loss after one step from [1, 2, 3] with T = 2 (0.4076 before it).
    #expect(err == "\(bad):9: claim 'loss > 1' is false after s: loss = 0.3899276786743923\n", "\(err)")

    let huge = dir.appendingPathComponent("huge.md").path
    try Data(repeating: 0x41, count: 10 << 20).write(to: URL(fileURLWithPath: huge))
    let (s2, _, e2) = try run(try softmaxLabBinary(), ["lesson", "--check", huge])
    #expect(s2 == 1)
    #expect(e2 == "\(huge):1: the file is 10485760 bytes, more than the 1 MiB a lesson may be\n")

    let (s3, _, e3) = try run(
      try softmaxLabBinary(), ["lesson", "--check", dir.appendingPathComponent("none.md").path])
    #expect(s3 == 1)
    #expect(e3.contains("none.md: cannot read"), "\(e3)")
    // Running (not checking) a bad lesson refuses it the same way before any terminal is touched.
    let (s4, _, e4) = try run(try softmaxLabBinary(), ["lesson", huge])
    #expect(s4 == 1)
    #expect(e4.hasPrefix("\(huge):1: the file is"))
  }
}
