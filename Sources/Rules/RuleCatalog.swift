/// Every rule a playbook can name. A new remediation is one new `Rule` type and one line here.
public enum RuleCatalog {
    public static let all: [any Rule.Type] = [
        StableBlockDeviceReferences.self,
        NICMACPinning.self,
        DHCPToStatic.self,
        MediaRepositories.self,
        KernelPrune.self,
        BootSpaceCheck.self,
        Bootloader.self,
        Firmware.self,
        BootConfig.self,
        BlockUdevRules.self,
        VMwareHardwareVersionCheck.self,
        LvmIdentity.self,
        Multipath.self,
        BootloaderDevice.self,
        KernelParameters.self,
        CloudInitIdentity.self,
        DataDiskNofail.self,
        GuestAgentCheck.self,
        SubscriptionCheck.self,
        RepositoryFreshness.self,
        KernelCurrentCheck.self,
        NetworkMapCheck.self,
        InitramfsDrivers.self,
    ]

    public static func rule(id: String) -> (any Rule.Type)? {
        all.first { $0.id == id }
    }
}
