public struct GuestprepCommand { public static func main() {} }
