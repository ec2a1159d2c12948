// TEMPORARY STUB (replaced by the real BFloat16)
public typealias BFloat16 = Float
