using System.Net;

namespace MedVision.Dicom.Network;

/// <summary>Checks called AE, calling AE allow-list and application context, in that order.</summary>
public sealed class DefaultAssociationPolicy(DicomServerOptions options) : IAssociationPolicy
{
    public AssociationRejection? Evaluate(AssociateRequest request, IPEndPoint? remote)
    {
        if (!string.Equals(request.CalledAeTitle, options.AeTitle, StringComparison.Ordinal))
        {
            return AssociationRejection.CalledAeNotRecognized($"called AE '{request.CalledAeTitle}' is not '{options.AeTitle}'");
        }
        if (options.AllowedCallingAeTitles.Count > 0 &&
            !options.AllowedCallingAeTitles.Contains(request.CallingAeTitle, StringComparer.Ordinal))
        {
            return AssociationRejection.CallingAeNotRecognized($"calling AE '{request.CallingAeTitle}' is not in the allow-list");
        }
        if (request.ApplicationContext != PduCodec.DicomApplicationContext)
        {
            return AssociationRejection.ApplicationContextNotSupported($"application context '{request.ApplicationContext}' is not DICOM's");
        }
        return null;
    }
}
