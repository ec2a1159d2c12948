import ArgumentParser
import SoftmaxCore

extension Reduction: ExpressibleByArgument {}

/// The options of a batch (`eval --targets-file`): PyTorch's `cross_entropy` arguments, read from files.
struct BatchOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "A batch's targets, one class index per row: a 1-D .npy of int32/int64, or a text list. With it, "
        + "--logits-file is read as N rows of C logits (a 2-D .npy, or one row per line).",
      valueName: "path"))
  var targetsFile: String?

  @Option(
    help: ArgumentHelp(
      "The N upstream gradients ∂l/∂c_b (with --reduction none): the gradient is then that of Σ_b g_b·c_b.",
      valueName: "path"))
  var upstreamFile: String?

  @Option(help: ArgumentHelp("C class weights (a 1-D .npy or a text list), as PyTorch's weight.", valueName: "path"))
  var weightFile: String?

  @Option(help: "How the rows' losses combine: none, mean (÷ N, or ÷ Σ w_T with weights) or sum.")
  var reduction: Reduction?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("A target that marks a row to leave out (loss 0, gradient 0).", valueName: "K"))
  var ignoreIndex: Int?

  @Option(
    help: ArgumentHelp(
      "Write softmax.npy, gradient.npy and row_loss.npy of a batch into this directory, in its precision "
        + "(bfloat16 as float32, which holds it exactly).", valueName: "dir"))
  var saveNpy: String?

  /// Whether any batch option is given.
  var isBatch: Bool { targetsFile != nil }

  /// The batch these options and `input` describe, validated; one line naming the file and the value otherwise.
  func makeBatch(_ input: InputOptions) throws(ValidationError) -> BatchProblem {
    do throws(InputError) {
      guard let targetsPath = targetsFile else { throw InputError("a batch needs --targets-file") }
      guard let logitsPath = input.logitsFile else {
        throw InputError("--targets-file needs --logits-file with the batch's N rows of C logits")
      }
      if input.logits != nil || input.random != nil {
        throw InputError("a batch reads its logits from --logits-file; --logits and --random are for one vector")
      }
      if input.softTarget != nil || input.temperature != nil || input.target != nil || input.load != nil {
        throw InputError(
          "--target, --soft-target, --temperature and --load are for one vector; a batch has --targets-file")
      }
      let name = input.precision ?? "float64"
      guard let precision = Precision(name: name) else {
        throw InputError("unknown precision '\(name)' (expected float16, bfloat16, float32 or float64)")
      }
      let x = try BatchOptions.readArray(logitsPath, integers: false, what: "logit", rows: true)
      let targets = try BatchOptions.readArray(targetsPath, integers: true, what: "target", rows: false)
      let t = try targets.values.enumerated().map { (b, v) throws(InputError) -> Int in
        guard v == v.rounded(), abs(v) < 1e15 else {
          throw InputError("\(BatchOptions.name(targetsPath)): the target of row \(b) is \(v), not a class index")
        }
        return Int(v)
      }
      var p = BatchProblem(
        logits: x.values, rows: x.rows, classes: x.columns, targets: t, reduction: reduction ?? .mean,
        ignoreIndex: ignoreIndex ?? -100, precision: precision)
      if let e = input.labelSmoothing {
        p.labelSmoothing = try NumberListParser.parseValue(Substring(e), what: "label smoothing", index: nil)
      }
      if let path = weightFile {
        p.weights = try BatchOptions.readArray(path, integers: false, what: "weight", rows: false).values
      }
      if let path = upstreamFile {
        p.upstream = try BatchOptions.readArray(path, integers: false, what: "upstream gradient", rows: false).values
      }
      do throws(BatchProblem.Invalid) {
        return try p.validated()
      } catch {
        // The message names the row, class or value; the file it came from goes in front.
        let file: String? =
          switch error.field {
          case .logits: logitsPath
          case .targets: targetsPath
          case .weights: weightFile
          case .upstream: upstreamFile
          case .shape, .labelSmoothing: nil
          }
        throw InputError(file.map { "\(BatchOptions.name($0)): \(error.message)" } ?? error.message)
      }
    } catch {
      throw ValidationError(error.message)
    }
  }

  /// "standard input" for `-`, else the path.
  static func name(_ path: String) -> String { path == "-" ? "standard input" : path }

  /// An array from a `.npy` file (recognised by its magic bytes) or a text file: with `rows`, one row per line
  /// (every row as long as the first; blank and comment lines skipped), otherwise one list.
  static func readArray(_ path: String, integers: Bool, what: String, rows: Bool) throws(InputError)
    -> NPYParser.Array2D
  {
    let bytes = try InputOptions.readFile(path)
    let name = name(path)
    do throws(InputError) {
      if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) {
        let a = try NPYParser.parseArray(bytes, integers: integers)
        if !rows && a.shape.count != 1 {
          throw InputError("expected a 1-D array, found shape (\(a.shape.map(String.init).joined(separator: ", ")))")
        }
        return a
      }
      guard rows else {
        let v = try NumberListParser.parseList(bytes: bytes, what: what)
        return NPYParser.Array2D(shape: [v.count], values: v)
      }
      var values: [Double] = []
      var count = 0
      var width = 0
      var lineNumber = 0
      for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        lineNumber += 1
        // Only a line with a number on it is a row (blank lines and comments are skipped).
        guard NumberListParser.lineShape(bytes: Array(line)).lines > 0 else { continue }
        let row: [Double]
        do throws(InputError) {
          row = try NumberListParser.parseList(bytes: Array(line), what: what)
        } catch {
          throw InputError("line \(lineNumber): \(error.message)")
        }
        if count == 0 { width = row.count }
        guard row.count == width else {
          throw InputError("line \(lineNumber) has \(row.count) values, the first row \(width): rows must be equal")
        }
        values += row
        count += 1
        guard values.count <= NPYParser.maximumBatchCount else {
          throw InputError("more than \(NPYParser.maximumBatchCount) (2^27) values")
        }
      }
      guard count > 0 else { throw InputError("no rows of logits") }
      return NPYParser.Array2D(shape: [count, width], values: values)
    } catch {
      throw InputError("\(name): \(error.message)")
    }
  }
}
