using System.Net.Sockets;

namespace MedVision.Dicom.Network;

/// <summary>
/// Socket options that keep DICOM request/response traffic from stalling. Senders such as dcmtk's storescu leave
/// Nagle's algorithm on; if we delay our ACKs as well, every instance waits ~40 ms for the delayed-ACK timer.
/// </summary>
internal static class SocketTuning
{
    private const int IpProtoTcp = 6;
    private const int TcpQuickAck = 12;

    public static void Apply(Socket socket)
    {
        socket.NoDelay = true;
        QuickAck(socket);
    }

    /// <summary>Linux drops out of quick-ACK mode on its own, so this is re-armed after every read.</summary>
    public static void QuickAck(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        try
        {
            socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, BitConverter.GetBytes(1));
        }
        catch (SocketException)
        {
            // Not every socket type supports it; the association still works, only slower with Nagle senders.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
