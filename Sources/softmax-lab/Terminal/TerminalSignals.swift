import Dispatch
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Signals the terminal cares about, recorded by dispatch sources (never by a C signal handler of ours) and polled
/// by the main thread. Nothing here calls ncurses.
enum TerminalSignals {
  /// The first termination signal (SIGTERM, SIGHUP, SIGINT) received since `install()`, or 0.
  static let termination = Atomic<Int32>(0)
  /// Set by SIGTSTP from outside (e.g. `kill -TSTP`): the main thread suspends like Ctrl-Z.
  static let stopRequested = Atomic<Bool>(false)
  /// Set by SIGCONT: the main thread restores program mode and repaints everything.
  static let continued = Atomic<Bool>(false)

  static let terminationSignals: [Int32] = [SIGTERM, SIGHUP, SIGINT]

  /// Installs the sources. Must run before `newterm`/`initscr`: dispositions set here (SIG_IGN, then libdispatch's
  /// own forwarding handler) are not the default, so ncurses leaves SIGINT, SIGTERM and SIGTSTP alone.
  static func install() -> [any DispatchSourceSignal] {
    termination.store(0, ordering: .relaxed)
    stopRequested.store(false, ordering: .relaxed)
    continued.store(false, ordering: .relaxed)
    let queue = DispatchQueue(label: "softmax-lab.signals")
    var sources: [any DispatchSourceSignal] = []
    for sig in terminationSignals {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
      source.setEventHandler {
        // Keep the first signal: that is the one the exit status reports.
        _ = termination.compareExchange(expected: 0, desired: sig, ordering: .relaxed)
      }
      source.resume()
      sources.append(source)
    }
    signal(SIGTSTP, SIG_IGN)
    let tstp = DispatchSource.makeSignalSource(signal: SIGTSTP, queue: queue)
    tstp.setEventHandler { stopRequested.store(true, ordering: .relaxed) }
    tstp.resume()
    sources.append(tstp)
    // SIGCONT always continues the process whatever its disposition; the source only tells us it happened.
    let cont = DispatchSource.makeSignalSource(signal: SIGCONT, queue: queue)
    cont.setEventHandler { continued.store(true, ordering: .relaxed) }
    cont.resume()
    sources.append(cont)
    return sources
  }

  /// Cancels the sources. The dispositions stay as they are (ignored): the process is about to exit anyway, and a
  /// late SIGINT must not kill it half-way through restoring the terminal.
  static func uninstall(_ sources: [any DispatchSourceSignal]) {
    for s in sources { s.cancel() }
  }
}
