import Foundation
import SoftmaxTUI

/// The lessons shipped with the program, as resource files of this module.
public enum BuiltInLessons {
  /// The text of the built-in tour (`softmax-lab tour`), a lesson file like any other.
  public static var tourText: [UInt8] {
    guard let url = Bundle.module.url(forResource: "tour", withExtension: "md"),
      let data = try? Data(contentsOf: url)
    else { preconditionFailure("the tour resource is missing from the bundle") }
    return Array(data)
  }

  /// The built-in tour, parsed (the test suite checks it with `lesson --check`).
  public static var tour: LessonFile {
    switch LessonParser.parse(tourText, label: "Tour") {
    case .success(let file): return file
    case .failure(let issues):
      preconditionFailure("the built-in tour does not parse: \(issues.issues.map { $0.described(file: "tour.md") })")
    }
  }
}
