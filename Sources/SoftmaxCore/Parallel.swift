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

extension Parallel {
  /// `first(&a)` and `second(&b)`, side by side when `concurrently`, one after the other otherwise; returns when both
  /// have finished. Nothing is allocated on the calling thread: each job works in the value it is given.
  public static func both<A: Sendable, B: Sendable>(
    _ a: inout A, _ b: inout B, concurrently: Bool, _ first: @Sendable (inout A) -> Void,
    _ second: @Sendable (inout B) -> Void
  ) {
    guard concurrently else {
      first(&a)
      second(&b)
      return
    }
    withUnsafeMutablePointer(to: &a) { pa in
      withUnsafeMutablePointer(to: &b) { pb in
        // Job 0 touches only `a` and job 1 only `b`, and both have finished when `concurrentPerform` returns.
        let jobs = Jobs(a: pa, b: pb)
        DispatchQueue.concurrentPerform(iterations: 2) { k in
          if k == 0 { first(&jobs.a.pointee) } else { second(&jobs.b.pointee) }
        }
      }
    }
  }

  private struct Jobs<A, B>: @unchecked Sendable {
    let a: UnsafeMutablePointer<A>
    let b: UnsafeMutablePointer<B>
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
