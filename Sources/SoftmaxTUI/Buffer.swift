import SoftmaxCore
import SoftmaxText

/// A terminal colour: the terminal's default, or an index into the 256-colour palette (0–7 are the basic eight).
public enum TerminalColor: Equatable, Hashable, Sendable {
  case `default`
  case indexed(UInt8)

  public static let black = TerminalColor.indexed(0)
  public static let red = TerminalColor.indexed(1)
  public static let green = TerminalColor.indexed(2)
  public static let yellow = TerminalColor.indexed(3)
  public static let blue = TerminalColor.indexed(4)
  public static let magenta = TerminalColor.indexed(5)
  public static let cyan = TerminalColor.indexed(6)
  public static let white = TerminalColor.indexed(7)
}

/// Text attributes of a cell.
public struct TextAttributes: OptionSet, Hashable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  public static let bold = TextAttributes(rawValue: 1)
  public static let dim = TextAttributes(rawValue: 2)
  public static let reverse = TextAttributes(rawValue: 4)
  public static let underline = TextAttributes(rawValue: 8)
}

/// Foreground, background and attributes.
public struct Style: Hashable, Sendable {
  public var foreground: TerminalColor
  public var background: TerminalColor
  public var attributes: TextAttributes

  public init(
    foreground: TerminalColor = .default, background: TerminalColor = .default, attributes: TextAttributes = []
  ) {
    self.foreground = foreground
    self.background = background
    self.attributes = attributes
  }

  public static let plain = Style()
  public static let bold = Style(attributes: .bold)
  public static let dim = Style(attributes: .dim)
  public static let reverse = Style(attributes: .reverse)
}

/// One character cell: a single-width Unicode scalar and its style.
public struct Cell: Hashable, Sendable {
  public var scalar: Unicode.Scalar
  public var style: Style

  public init(_ scalar: Unicode.Scalar = " ", style: Style = .plain) {
    self.scalar = scalar
    self.style = style
  }

  public static let blank = Cell()
}

/// A rectangle on screen.
public struct Rect: Hashable, Sendable {
  public var x: Int
  public var y: Int
  public var width: Int
  public var height: Int

  public init(x: Int, y: Int, width: Int, height: Int) {
    self.x = x
    self.y = y
    self.width = Swift.max(0, width)
    self.height = Swift.max(0, height)
  }

  public var maxX: Int { x + width }
  public var maxY: Int { y + height }
  public var isEmpty: Bool { width <= 0 || height <= 0 }

  public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }

  /// The rectangle shrunk by `n` cells on every side.
  public func inset(_ n: Int) -> Rect { Rect(x: x + n, y: y + n, width: width - 2 * n, height: height - 2 * n) }
}

/// A grid of cells that views render into; the terminal backend draws it, tests read it.
public struct Buffer: Sendable, Equatable {
  public private(set) var width: Int
  public private(set) var height: Int
  public private(set) var cells: [Cell]
  /// What stands in for a number cut at a clip edge: `…`, or `#` in ASCII mode.
  public var ellipsis: Unicode.Scalar = "…"
  /// Whether a hyphen that is a number's sign (`-0.3348`, not `e-18` or `x-axis`) is drawn as the minus sign `−`, so
  /// that one minus sign is used throughout (Unicode mode).
  public var unicodeMinus = false
  /// Where the terminal's cursor goes (the edit line's cursor); -1: hidden. `clear` hides it.
  public var cursorX = -1
  public var cursorY = -1

  public init(width: Int, height: Int) {
    self.width = Swift.max(0, width)
    self.height = Swift.max(0, height)
    cells = Array(repeating: .blank, count: self.width * self.height)
  }

  public var area: Rect { Rect(x: 0, y: 0, width: width, height: height) }

  /// Makes this buffer equal to `other`, reusing its own storage when the sizes match (no allocation then).
  public mutating func copy(from other: Buffer) {
    guard cells.count == other.cells.count else {
      self = Buffer(width: other.width, height: other.height)
      return copy(from: other)
    }
    width = other.width
    height = other.height
    cursorX = other.cursorX
    cursorY = other.cursorY
    other.cells.withUnsafeBufferPointer { source in
      cells.withUnsafeMutableBufferPointer { target in
        for i in source.indices { target[i] = source[i] }
      }
    }
  }

  /// Resets every cell to blank, keeping the storage (no allocation when the size is unchanged).
  public mutating func clear(width newWidth: Int, height newHeight: Int) {
    let w = Swift.max(0, newWidth)
    let h = Swift.max(0, newHeight)
    if w * h != cells.count {
      cells = Array(repeating: .blank, count: w * h)
    } else {
      for i in cells.indices { cells[i] = .blank }
    }
    width = w
    height = h
    cursorX = -1
    cursorY = -1
  }

  /// The cell at (x, y); out of range reads as blank.
  public subscript(x: Int, y: Int) -> Cell {
    get {
      guard x >= 0, y >= 0, x < width, y < height else { return .blank }
      return cells[y * width + x]
    }
    set {
      guard x >= 0, y >= 0, x < width, y < height else { return }
      cells[y * width + x] = newValue
    }
  }

  /// Writes one scalar if (x, y) is inside both the buffer and `clip`.
  @inline(__always)
  public mutating func put(_ scalar: Unicode.Scalar, x: Int, y: Int, style: Style, clip: Rect? = nil) {
    if let c = clip, !c.contains(x: x, y: y) { return }
    self[x, y] = Cell(scalar, style: style)
  }

  /// Writes a line from (x, y) rightwards, clipped to `clip` (or the buffer); returns the x after the last scalar.
  /// Every scalar takes one cell: the lab only draws single-width characters.
  ///
  /// A clipped number is a wrong number: when the right edge falls inside a number (`5.204170427930421|e−18`), the
  /// number's visible part is replaced by `…` rather than shown cut.
  @discardableResult
  public mutating func write(_ text: TextLine, x: Int, y: Int, style: Style = .plain, clip: Rect? = nil) -> Int {
    let limit = clip ?? area
    guard y >= limit.y, y < limit.maxY else { return x + text.scalarCount }
    var cx = x
    let right = Swift.min(limit.maxX, width)
    // The start of the run of number characters just written, and whether it holds a digit.
    var run = (start: x, digit: false, active: false)
    // The two scalars before this one, to tell a sign from a hyphen.
    var previous: (Unicode.Scalar, Unicode.Scalar) = (" ", " ")
    text.forEachScalar { s in
      let numeric = Self.isNumberScalar(s)
      if cx >= right {
        if numeric, run.active, run.digit { elide(from: Swift.max(run.start, limit.x), to: right, y: y, style: style) }
        return false
      }
      if !numeric, run.active, run.digit, run.start < limit.x, cx > limit.x {
        // A number whose head is left of the clip: its tail alone would read as another number.
        elide(from: limit.x, to: cx, y: y, style: style)
      }
      if cx >= limit.x { self[cx, y] = Cell(s, style: style) }
      let digit = s.value >= 0x30 && s.value <= 0x39
      if unicodeMinus, digit || s == "." || s == "i" || s == "∞", previous.1 == "-", !Self.isWordScalar(previous.0),
        cx - 1 >= limit.x
      {
        self[cx - 1, y] = Cell("−", style: style)
      }
      if numeric {
        if !run.active { run = (cx, false, true) }
        if digit { run.digit = true }
      } else {
        run.active = false
      }
      previous = (previous.1, s)
      cx += 1
      return true
    }
    if run.active, run.digit, run.start < limit.x, cx > limit.x, cx <= right {
      elide(from: limit.x, to: cx, y: y, style: style)
    }
    return cx
  }

  /// Scalars after which a hyphen is part of a word or an exponent (`e-18`, `x_1-M`, `2-3`), not a sign.
  @inline(__always)
  static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F, 0x29, 0x5D, 0x7D: return true
    default: return false
    }
  }

  /// Characters a number is written with: digits, the point, the exponent's `e`, signs, `∞`.
  @inline(__always)
  static func isNumberScalar(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x30...0x39, 0x2E, 0x65, 0x2B, 0x2D, 0x2212, 0x221E: return true
    default: return false
    }
  }

  /// Blanks `start..<end` on row `y` and puts `…` at `start`.
  private mutating func elide(from start: Int, to end: Int, y: Int, style: Style) {
    guard start < end else { return }
    for cx in start..<end { self[cx, y] = Cell(" ", style: style) }
    self[start, y] = Cell(ellipsis, style: style)
  }

  /// Applies a style change to every cell in `rect` (e.g. a highlight), keeping the characters.
  public mutating func restyle(_ rect: Rect, _ change: (inout Style) -> Void) {
    for y in Swift.max(0, rect.y)..<Swift.min(height, rect.maxY) {
      for x in Swift.max(0, rect.x)..<Swift.min(width, rect.maxX) {
        change(&cells[y * width + x].style)
      }
    }
  }

  /// Fills `rect` with one cell.
  public mutating func fill(_ rect: Rect, with cell: Cell) {
    for y in Swift.max(0, rect.y)..<Swift.min(height, rect.maxY) {
      for x in Swift.max(0, rect.x)..<Swift.min(width, rect.maxX) { cells[y * width + x] = cell }
    }
  }

  /// Row `y` as text (trailing spaces kept).
  public func line(_ y: Int) -> String {
    guard y >= 0, y < height else { return "" }
    var s = String.UnicodeScalarView()
    for x in 0..<width { s.append(cells[y * width + x].scalar) }
    return String(s)
  }

  /// The whole buffer as text, one line per row with trailing spaces removed: what snapshot tests compare.
  public var text: String {
    (0..<height).map { y in
      var l = line(y)
      while l.last == " " { l.removeLast() }
      return l
    }.joined(separator: "\n")
  }
}
