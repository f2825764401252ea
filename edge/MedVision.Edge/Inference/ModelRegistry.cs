namespace MedVision.Edge.Inference;

/// <summary>
/// The models this appliance serves and the packages it refused. Empty until <see cref="Load"/> has run
/// (at host start, see <see cref="ModelLoaderService"/>); owns and disposes the sessions.
/// </summary>
public sealed class ModelRegistry(ModelPackageLoader loader, ILogger<ModelRegistry> logger) : IDisposable
{
    private static readonly ModelLoadResult Empty = new([], []);

    // One immutable snapshot swapped whole, so readers never see models from one pass and errors from another.
    private volatile ModelLoadResult _current = Empty;
    private readonly Lock _loadLock = new();
    private bool _disposed;

    public IReadOnlyList<LoadedModel> Models => _current.Models;

    public IReadOnlyList<ModelLoadError> Errors => _current.Errors;

    public bool IsLoaded { get; private set; }

    /// <summary>Loads every package; replaces (and disposes) whatever was loaded before.</summary>
    public void Load(CancellationToken cancellationToken)
    {
        lock (_loadLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var loaded = loader.LoadAll(cancellationToken);
            var previous = _current;
            _current = loaded;
            IsLoaded = true;
            foreach (var model in previous.Models)
            {
                model.Dispose();
            }
            if (loaded.Models.Count == 0)
            {
                InferenceLog.NoModels(logger);
            }
        }
    }

    /// <summary>Models whose manifest lists <paramref name="modality"/> in <c>applies_to.modalities</c>.</summary>
    public IEnumerable<LoadedModel> ModelsFor(string? modality) =>
        modality is null ? [] : _current.Models.Where(m => m.AppliesTo(modality));

    public LoadedModel? Find(string modelId) =>
        _current.Models.FirstOrDefault(m => m.Id.Equals(modelId, StringComparison.Ordinal));

    public void Dispose()
    {
        lock (_loadLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            var current = _current;
            _current = Empty;
            foreach (var model in current.Models)
            {
                model.Dispose();
            }
        }
    }
}
