import Dispatch

/// Runs independent jobs side by side on the available cores (two on the machines this lab is measured on).
public enum Parallel {
  /// `[body(0), body(1), …, body(count − 1)]`, the calls made concurrently (one after the other when `concurrently`
  /// is false: for small jobs, waking a worker costs more than it saves); returns when all have finished.
  public static func map<T: Sendable>(_ count: Int, concurrently: Bool = true, _ body: @Sendable (Int) -> T) -> [T] {
    if count == 1 || !concurrently { return (0..<count).map(body) }
    let slots = Slots<T>(count)
    DispatchQueue.concurrentPerform(iterations: count) { k in slots.set(k, body(k)) }
    return slots.values()
  }
}

/// A job for ``Parallel/both(_:_:concurrently:)``: a value that does its work on itself.
public protocol ParallelJob: Sendable {
  mutating func run()
}

extension Parallel {
  /// `a.run()` and `b.run()`, side by side when `concurrently`, one after the other otherwise; returns when both have
  /// finished. `b` runs on a thread kept for this purpose and is handed over as its address and a function that
  /// captures nothing, so that nothing is allocated (`concurrentPerform` allocates a few blocks per call); when that
  /// thread is busy, both run here. (Going through the job's type instead, as an existential, would run unspecialised
  /// generic code on the worker: measured 3× slower.)
  @inlinable
  public static func both<A: ParallelJob, B: ParallelJob>(_ a: inout A, _ b: inout B, concurrently: Bool) {
    guard concurrently else {
      a.run()
      b.run()
      return
    }
    // Specialised for B at the call site, this closure has no context: making it allocates nothing.
    let job: @Sendable (UnsafeMutableRawPointer) -> Void = { $0.assumingMemoryBound(to: B.self).pointee.run() }
    withUnsafeMutablePointer(to: &b) { pb in
      if !Worker.shared.run(job, at: UnsafeMutableRawPointer(pb), alongside: { a.run() }) {
        a.run()
        pb.pointee.run()
      }
    }
  }
}

/// A thread that runs one job at a time for ``Parallel/both(_:_:concurrently:)``, handed over through two
/// semaphores: giving it a job allocates nothing.
@usableFromInline
final class Worker: @unchecked Sendable {
  @usableFromInline static let shared = Worker()
  private let ready = DispatchSemaphore(value: 0)
  private let finished = DispatchSemaphore(value: 0)
  private let free = DispatchSemaphore(value: 1)
  // Written by the caller before `ready` is signalled and read by the worker after it: the semaphore orders them.
  private var job: (@Sendable (UnsafeMutableRawPointer) -> Void)?
  private var address: UnsafeMutableRawPointer?

  private init() {
    DispatchQueue(label: "softmax-lab.worker").async { [self] in
      while true {
        ready.wait()
        if let job, let address { job(address) }
        finished.signal()
      }
    }
  }

  /// Runs `job(address)` on the worker while `mine()` runs on the calling thread, and returns true when both are
  /// done; returns false at once, having run nothing, when another caller has the worker.
  @usableFromInline func run(
    _ job: @escaping @Sendable (UnsafeMutableRawPointer) -> Void, at address: UnsafeMutableRawPointer,
    alongside mine: () -> Void
  ) -> Bool {
    guard free.wait(timeout: .now()) == .success else { return false }
    defer { free.signal() }
    self.job = job
    self.address = address
    ready.signal()
    mine()
    finished.wait()
    self.job = nil
    self.address = nil
    return true
  }
}

/// Result slots for `concurrentPerform`: call `k` writes only slot `k`, and the slots are read only after every call
/// has returned, so the unsynchronised writes never race.
private final class Slots<T: Sendable>: @unchecked Sendable {
  private let storage: UnsafeMutableBufferPointer<T?>

  init(_ count: Int) {
    storage = .allocate(capacity: count)
    storage.initialize(repeating: nil)
  }

  deinit {
    storage.deinitialize()
    storage.deallocate()
  }

  func set(_ k: Int, _ value: T) { storage[k] = value }

  /// Every slot's value; `concurrentPerform` has run every call by the time this is read.
  func values() -> [T] { storage.map { $0! } }
}

/// A value computed now, or once when first read (thread-safe), for results that only some callers need.
final class Deferred<Value: Sendable>: @unchecked Sendable {
  /// The value when it was computed up front: read without locking.
  private let ready: Value?
  private let lock = DispatchQueue(label: "softmax-lab.deferred")
  // Guarded by `lock`.
  private var result: Value?
  private var compute: (@Sendable () -> Value)?

  init(value: Value) { ready = value }

  /// `compute()` right away when `now`, otherwise on the first read of ``value``.
  init(now: Bool, _ compute: @escaping @Sendable () -> Value) {
    if now {
      ready = compute()
    } else {
      ready = nil
      self.compute = compute
    }
  }

  var value: Value {
    if let ready { return ready }
    return lock.sync {
      if let result { return result }
      let v = compute!()
      result = v
      compute = nil
      return v
    }
  }
}
