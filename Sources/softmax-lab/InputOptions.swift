import ArgumentParser
import SoftmaxCore
import SoftmaxTUI
import SoftmaxText

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The options that describe one problem, shared by `eval` and the explorer.
///
/// Every number goes through the core's parser, and every mistake becomes a `ValidationError` carrying one line that
/// names the offending value, so ArgumentParser prints it with the usage and exits non-zero.
struct InputOptions: ParsableArguments {
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Logits separated by commas or spaces, e.g. 1,2,3 or \"1 2 3\"; -inf masks a class. "
        + "A leading minus sign is safest with '=': --logits=-1,2.",
      valueName: "x0,x1,…"))
  var logits: String?

  @Option(
    help: ArgumentHelp(
      "Read the logits from a file (- reads standard input): numbers separated by commas, spaces or newlines, "
        + "or a NumPy .npy file (1-D, little-endian float16/float32/float64; recognised by its magic bytes).",
      valueName: "path"))
  var logitsFile: String?

  @Option(help: ArgumentHelp("Use C random logits, normally distributed (see --seed, --scale).", valueName: "C"))
  var random: Int?

  @Option(help: ArgumentHelp("Seed of --random (the same seed gives the same vector).", valueName: "S"))
  var seed: UInt64?

  @Option(
    parsing: .unconditional, help: ArgumentHelp("Standard deviation of --random (default 1).", valueName: "σ"))
  var scale: String?

  @Option(
    help: ArgumentHelp(
      "Start from a session file saved with W (or left by a quit): the logits as entered, target, knobs, precision; "
        + "no other input option may be given with it.",
      valueName: "FILE.json"))
  var load: String?

  @Option(parsing: .unconditional, help: ArgumentHelp("The target class T, 0-based (default: 0).", valueName: "T"))
  var target: Int?

  @Option(
    help: ArgumentHelp(
      "The precision everything is computed in: float16, bfloat16, float32 or float64 (default: float64).",
      valueName: "name"),
    completion: .list(Precision.allCases.map(\.rawValue)))
  var precision: String?

  @Option(parsing: .unconditional, help: ArgumentHelp("Temperature τ > 0: softmax of x/τ.", valueName: "τ"))
  var temperature: String?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("Label smoothing ε in [0, 1]: y = (1 − ε)·one-hot + ε/C.", valueName: "ε"))
  var labelSmoothing: String?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "An explicit target distribution (C values ≥ 0 summing to 1), instead of --target for the loss.",
      valueName: "q0,q1,…"))
  var softTarget: String?

  @Option(parsing: .unconditional, help: ArgumentHelp("Upstream gradient g = ∂l/∂c (default 1).", valueName: "g"))
  var upstream: String?

  @Option(
    parsing: .unconditional, help: ArgumentHelp("Learning rate η of the gradient step (default: 0.1).", valueName: "η"))
  var lr: String?

  /// The largest file `--logits-file` reads.
  static let maximumFileSize = 128 << 20

  /// The validated problem these options describe.
  ///
  /// - Parameter fallback: logits to use when no source is given (the explorer starts from an example); without
  ///   one, exactly one of `--logits`, `--logits-file` and `--random` is required.
  /// - Throws: `ValidationError` with a one-line message naming the offending value. Call it from the command's
  ///   `validate()`, so ArgumentParser prints the subcommand's usage with it.
  func makeProblem(fallback: [Double]? = nil) throws(ValidationError) -> Problem {
    if load != nil { return try loadedState().problem }
    do throws(InputError) {
      let precision = self.precision ?? "float64"
      guard let p = Precision(name: precision) else {
        throw InputError("unknown precision '\(precision)' (expected float16, bfloat16, float32 or float64)")
      }
      var problem = Problem(logits: try readLogits(fallback: fallback), target: target ?? 0, precision: p)
      if let t = temperature { problem.temperature = try value(t, "temperature") }
      if let e = labelSmoothing { problem.labelSmoothing = try value(e, "label smoothing") }
      if let q = softTarget { problem.softTarget = try NumberListParser.parseList(q, what: "soft target value") }
      if let g = upstream { problem.upstream = try value(g, "upstream gradient") }
      problem.learningRate = try value(lr ?? "0.1", "learning rate")
      return try problem.validated()
    } catch {
      throw ValidationError(error.message)
    }
  }

  /// The state of the session file `--load` names (nil without it), every value validated; a bad file, or another
  /// input option given with it, is a `ValidationError` of one line naming the file and the problem.
  func loadedState() throws(ValidationError) -> AppState {
    guard let path = load else { throw ValidationError("no session file given (--load FILE.json)") }
    if let name = firstGivenOption {
      throw ValidationError("--load takes the whole problem from \(path); do not give \(name) with it")
    }
    do throws(InputError) {
      return try SessionStore.load(path)
    } catch {
      throw ValidationError(error.message)
    }
  }

  /// The first option given that describes the problem (besides `--load`), if any.
  var firstGivenOption: String? {
    let others: [(String, Bool)] = [
      ("--logits", logits != nil), ("--logits-file", logitsFile != nil), ("--random", random != nil),
      ("--seed", seed != nil), ("--scale", scale != nil), ("--target", target != nil),
      ("--precision", precision != nil), ("--temperature", temperature != nil),
      ("--label-smoothing", labelSmoothing != nil), ("--soft-target", softTarget != nil),
      ("--upstream", upstream != nil), ("--lr", lr != nil),
    ]
    return others.first(where: \.1)?.0
  }

  /// One number from an option, through the core's parser.
  private func value(_ text: String, _ what: String) throws(InputError) -> Double {
    try NumberListParser.parseValue(Substring(text), what: what, index: nil)
  }

  private func readLogits(fallback: [Double]?) throws(InputError) -> [Double] {
    let given = [logits != nil, logitsFile != nil, random != nil].filter { $0 }.count
    if given > 1 { throw InputError("give only one of --logits, --logits-file and --random") }
    if random == nil && (seed != nil || scale != nil) { throw InputError("--seed and --scale need --random C") }
    if let text = logits { return try NumberListParser.parseList(text, what: "logit") }
    if let path = logitsFile { return try InputOptions.readLogitsFile(path) }
    if let count = random {
      guard (1...NumberListParser.maximumCount).contains(count) else {
        throw InputError("--random \(count): the number of classes must be in 1...\(NumberListParser.maximumCount)")
      }
      let sigma = try scale.map { text throws(InputError) in try value(text, "scale") } ?? 1
      guard sigma.isFinite else { throw InputError("scale \(DecimalFormat.compact(sigma)) must be finite") }
      return SeededRandom.logits(count: count, seed: seed ?? 0, scale: sigma)
    }
    if let fallback { return fallback }
    throw InputError("no logits given: use --logits 1,2,3, --logits-file PATH or --random C")
  }

  /// Logits from a text file, or from a `.npy` file recognised by its magic bytes `\x93NUMPY`. A text file of several
  /// lines of several numbers is a batch, refused until batches are supported (one number per line is one vector).
  static func readLogitsFile(_ given: String) throws(InputError) -> [Double] {
    let bytes = try readFile(given)
    let path = given == "-" ? "standard input" : given
    let values: [Double]
    do {
      if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return try NPYParser.parse(bytes) }
      values = try NumberListParser.parseList(bytes: bytes, what: "logit")
    } catch {
      throw InputError("\(path): \(error.message)")
    }
    let shape = NumberListParser.lineShape(bytes: bytes)
    if let refusal = NumberListParser.batchError(lines: shape.lines, several: shape.several) {
      throw InputError("\(path) \(refusal)")
    }
    return values
  }

  /// The whole file, or an `InputError` "cannot read PATH: reason". `-` is standard input (the Unix convention, so
  /// `python make_logits.py | softmax-lab eval --logits-file -` works); once it is read, standard input becomes the
  /// controlling terminal where there is one, so that the explorer can still read keys.
  static func readFile(_ path: String) throws(InputError) -> [UInt8] {
    let name = path == "-" ? "standard input" : path
    func failure(_ reason: String) -> InputError { InputError("cannot read \(name): \(reason)") }
    func systemFailure() -> InputError { failure(String(cString: strerror(errno))) }
    if path == "-" {
      defer {
        let tty = open("/dev/tty", O_RDONLY)
        if tty >= 0 {
          dup2(tty, STDIN_FILENO)
          close(tty)
        }
      }
      return try readAll(STDIN_FILENO, failure, systemFailure)
    }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw systemFailure() }
    defer { close(fd) }
    return try readAll(fd, failure, systemFailure)
  }

  /// Every byte of `fd` up to end of file (at most ``maximumFileSize``).
  private static func readAll(
    _ fd: Int32, _ failure: (String) -> InputError, _ systemFailure: () -> InputError
  ) throws(InputError) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw systemFailure()
      }
      if n == 0 { return bytes }
      bytes.append(contentsOf: chunk[0..<n])
      if bytes.count > maximumFileSize { throw failure("larger than \(maximumFileSize >> 20) MiB") }
    }
  }
}
