import GuestFS
import GuestFacts
import Network
import Testing

/// Which dialect governs an interface when several configure it.
@Suite("Network management")
struct NetworkManagementTests {
    func config(_ stack: NetworkStack, _ name: String) -> InterfaceConfig {
        InterfaceConfig(stack: stack, name: Sourced(name, at: SourceLocation(GuestPath("/etc/\(stack.rawValue)"), line: 1)))
    }

    func facts(enabled: Set<String>) -> GuestFacts {
        GuestFacts(os: nil, initSystem: .systemd, enabledUnits: enabled)
    }

    @Test("netplan governs what it configures; the ifupdown file for the same NIC is a bystander")
    func netplanFirst() {
        let managed = NetworkManagement.resolve(
            [config(.ifupdown, "ens3"), config(.netplan, "ens3")], facts: facts(enabled: ["networking.service"]))
        #expect(managed.map(\.manager) == [.netplan])
        #expect(managed.first?.bystanders.map(\.stack) == [.ifupdown])
    }

    @Test("a dialect whose service is not enabled does not govern when another's is")
    func enabledService() {
        let managed = NetworkManagement.resolve(
            [config(.networkd, "eth0"), config(.ifcfgRHEL, "eth0")], facts: facts(enabled: ["systemd-networkd.service"]))
        #expect(managed.first?.manager == .networkd)
        let rhel = NetworkManagement.resolve(
            [config(.networkd, "eth0"), config(.ifcfgRHEL, "eth0")], facts: facts(enabled: ["NetworkManager.service"]))
        #expect(rhel.first?.manager == .ifcfgRHEL)
        #expect(rhel.first?.reason.contains("precedence") == false)
    }

    @Test("NetworkManager keyfiles win over ifcfg for the same device on RHEL 9; loopbacks are not interfaces to manage")
    func keyfileOverIfcfg() {
        var loopback = config(.ifupdown, "lo")
        loopback.kind = .loopback
        let managed = NetworkManagement.resolve(
            [config(.ifcfgRHEL, "eth0"), config(.networkManager, "eth0"), loopback], facts: facts(enabled: ["NetworkManager.service"]))
        #expect(managed.map(\.name) == ["eth0"])
        #expect(managed.first?.manager == .networkManager)
        #expect(managed.first?.reason == "NetworkManager takes precedence over ifcfg-rhel")
    }
}
