/// A key as the explorer understands it, independent of the terminal library.
public enum Key: Hashable, Sendable {
  case character(Character)
  /// A control chord: `.control("r")` is Ctrl-R.
  case control(Character)
  case up, down, left, right
  case shiftUp, shiftDown, shiftLeft, shiftRight
  case enter, escape, backspace, delete, tab, backTab
  case home, end, pageUp, pageDown
  /// Alt-Backspace (Esc then Backspace): the line editor deletes the word before the cursor.
  case altBackspace
}

/// A mouse report in screen cells.
public struct MouseEvent: Hashable, Sendable {
  public enum Kind: Hashable, Sendable { case press, wheelUp, wheelDown }
  public var kind: Kind
  public var x: Int
  public var y: Int
  public init(kind: Kind, x: Int, y: Int) {
    self.kind = kind
    self.x = x
    self.y = y
  }
}

/// Everything that can happen to the explorer: keys, mouse, a new terminal size, or a timer tick.
public enum Event: Hashable, Sendable {
  case key(Key)
  case mouse(MouseEvent)
  case resize(width: Int, height: Int)
  case tick
  /// Text pasted in bracketed-paste mode (`ESC[200~ … ESC[201~`), as one event: an edit line inserts it, filtered to
  /// what its field takes.
  case paste(String)
}

/// How many colours the terminal can show; views pick ramps accordingly.
public enum ColorMode: Sendable, Equatable {
  /// No colour (`NO_COLOR`, `--no-color`, or a terminal without colours): meaning is carried by symbols and attributes.
  case none
  /// The eight basic colours.
  case basic
  /// The 256-colour palette.
  case extended
}
