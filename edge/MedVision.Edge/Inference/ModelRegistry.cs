using System.Globalization;
using Microsoft.Extensions.Options;

namespace MedVision.Edge.Inference;

/// <summary>
/// The models this appliance serves and the packages it refused, as one immutable snapshot that is swapped whole.
/// <see cref="Load"/> runs at host start (see <see cref="ModelLoaderService"/>); <see cref="Reload"/> (called by
/// <see cref="ModelWatcherService"/> or an operator) picks up new package folders: a higher version of a served id
/// is loaded beside the old one, must reproduce its golden set, and then replaces it atomically. Work that
/// <see cref="Acquire"/>d a snapshot keeps its models until it lets go; only then are replaced sessions disposed.
/// </summary>
public sealed class ModelRegistry : IDisposable
{
    private readonly ModelPackageLoader _loader;
    private readonly GoldenSetVerifier? _golden;
    private readonly string? _modelsDirectory;
    private readonly ILogger<ModelRegistry> _logger;
    private readonly Lock _loadLock = new();
    // Per package folder: what its files looked like when last examined, and why it was refused (if it was).
    private readonly Dictionary<string, string> _fingerprints = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ModelLoadError> _errors = new(StringComparer.Ordinal);
    private volatile Snapshot _current = new([], []);
    private bool _disposed;

    /// <summary>Start-up loading only (no updates): every package through <see cref="ModelPackageLoader.LoadAll(CancellationToken)"/>.</summary>
    public ModelRegistry(ModelPackageLoader loader, ILogger<ModelRegistry> logger)
    {
        _loader = loader;
        _logger = logger;
    }

    public ModelRegistry(ModelPackageLoader loader, GoldenSetVerifier golden, IOptions<InferenceOptions> options, ILogger<ModelRegistry> logger)
    {
        _loader = loader;
        _golden = golden;
        _modelsDirectory = options.Value.ModelsDirectory;
        _logger = logger;
    }

    public IReadOnlyList<LoadedModel> Models => _current.Models;

    public IReadOnlyList<ModelLoadError> Errors => _current.Errors;

    public bool IsLoaded { get; private set; }

    /// <summary>Loads every package present at start; of several versions of one id the highest serves.</summary>
    public void Load(CancellationToken cancellationToken)
    {
        if (_modelsDirectory is null)
        {
            lock (_loadLock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                var loaded = _loader.LoadAll(cancellationToken);
                Swap(new Snapshot(loaded.Models, loaded.Errors), _current.Models);
                IsLoaded = true;
                if (loaded.Models.Count == 0)
                {
                    InferenceLog.NoModels(_logger);
                }
            }
            return;
        }
        Scan(startup: true, cancellationToken);
        IsLoaded = true;
        if (_current.Models.Count == 0)
        {
            InferenceLog.NoModels(_logger);
        }
    }

    /// <summary>
    /// Examines package folders that are new or changed since the last pass and applies the verified updates.
    /// Returns the number of models added or replaced. Never throws for a bad package: it is listed in <see cref="Errors"/>.
    /// </summary>
    public int Reload(CancellationToken cancellationToken)
    {
        if (_modelsDirectory is null)
        {
            throw new InvalidOperationException("This registry was created without update support.");
        }
        return Scan(startup: false, cancellationToken);
    }

    /// <summary>
    /// Pins the current models for one unit of work: they stay usable (not disposed) until the lease is disposed,
    /// even if an update replaces them meanwhile.
    /// </summary>
    public ModelLease Acquire()
    {
        while (true)
        {
            var snapshot = _current;
            if (snapshot.TryEnter())
            {
                return new ModelLease(snapshot);
            }
        }
    }

    /// <summary>Models whose manifest lists <paramref name="modality"/> in <c>applies_to.modalities</c>.</summary>
    public IEnumerable<LoadedModel> ModelsFor(string? modality) =>
        modality is null ? [] : _current.Models.Where(m => m.AppliesTo(modality));

    public LoadedModel? Find(string modelId) =>
        _current.Models.FirstOrDefault(m => m.Id.Equals(modelId, StringComparison.Ordinal));

    private int Scan(bool startup, CancellationToken cancellationToken)
    {
        lock (_loadLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var directory = _modelsDirectory!;
            if (!Directory.Exists(directory))
            {
                InferenceLog.NoModelsDirectory(_logger, directory);
                _errors[directory] = new ModelLoadError("(models directory)", directory, $"Models directory '{directory}' does not exist.");
                Swap(new Snapshot(_current.Models, [.. _errors.Values]), []);
                return 0;
            }
            _errors.Remove(directory);

            var models = _current.Models.ToList();
            var dropped = new List<LoadedModel>();
            var changes = 0;
            var present = Directory.GetDirectories(directory).Order(StringComparer.Ordinal).ToList();
            foreach (var gone in _fingerprints.Keys.Except(present).ToList())
            {
                _fingerprints.Remove(gone);
                _errors.Remove(gone);
            }
            foreach (var packageDirectory in present)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var fingerprint = Fingerprint(packageDirectory);
                if (_fingerprints.TryGetValue(packageDirectory, out var known) && known == fingerprint)
                {
                    continue;
                }
                _fingerprints[packageDirectory] = fingerprint;
                _errors.Remove(packageDirectory);
                if (TryLoad(packageDirectory, startup, models, cancellationToken) is { } replacement)
                {
                    changes++;
                    if (replacement.Old is { } old)
                    {
                        models.Remove(old);
                        dropped.Add(old);
                    }
                    models.Add(replacement.New);
                }
            }
            if (changes > 0 || !_current.Errors.SequenceEqual(_errors.Values))
            {
                Swap(new Snapshot([.. models.OrderBy(m => m.Id, StringComparer.Ordinal)], [.. _errors.Values]), dropped);
            }
            if (startup)
            {
                InferenceLog.LoadSummary(_logger, models.Count, _errors.Count, directory);
            }
            return changes;
        }
    }

    /// <summary>The model to add and the one it replaces, or null when the folder brings nothing to serve.</summary>
    private (LoadedModel New, LoadedModel? Old)? TryLoad(string packageDirectory, bool startup, List<LoadedModel> serving, CancellationToken cancellationToken)
    {
        var package = Path.GetFileName(packageDirectory);
        LoadedModel? candidate = null;
        try
        {
            candidate = _loader.LoadPackage(packageDirectory, cancellationToken);
            var old = serving.FirstOrDefault(m => m.Id == candidate.Id);
            if (old is not null && CompareVersions(candidate.Version, old.Version) <= 0)
            {
                ModelUpdateLog.NotNewer(_logger, package, candidate.Id, candidate.Version, old.Version);
                candidate.Dispose();
                return null;
            }
            if (!startup)
            {
                // Proves this appliance reproduces what the package was validated with before a patient's image sees it.
                var (maxDelta, samples) = _golden!.Verify(candidate, cancellationToken);
                if (old is null)
                {
                    ModelUpdateLog.ModelAdded(_logger, candidate.Id, candidate.Version, maxDelta, samples);
                }
                else
                {
                    ModelUpdateLog.ModelSwapped(_logger, candidate.Id, old.Version, candidate.Version, candidate.Sha256, maxDelta, samples);
                }
            }
            return (candidate, old);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            candidate?.Dispose();
            var reason = ex is ModelPackageException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}";
            if (startup)
            {
                InferenceLog.PackageRefused(_logger, package, packageDirectory, reason, ex is ModelPackageException ? null : ex);
            }
            else
            {
                ModelUpdateLog.UpdateRefused(_logger, package, reason, ex is ModelPackageException ? null : ex);
            }
            _errors[packageDirectory] = new ModelLoadError(package, packageDirectory, reason);
            return null;
        }
        catch
        {
            candidate?.Dispose();
            throw;
        }
    }

    private void Swap(Snapshot next, IReadOnlyList<LoadedModel> dropped)
    {
        var previous = _current;
        _current = next;
        previous.Retire(dropped);
    }

    /// <summary>Names, sizes and write times of the folder's files: a copy still in progress changes it again.</summary>
    private static string Fingerprint(string packageDirectory)
    {
        try
        {
            return string.Join('|', new DirectoryInfo(packageDirectory).EnumerateFiles()
                .OrderBy(f => f.Name, StringComparer.Ordinal)
                .Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Name}:{f.Length}:{f.LastWriteTimeUtc.Ticks}")));
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    /// <summary>Semantic-version order of the numeric core (1.10.0 &gt; 1.9.0); a pre-release sorts before its release.</summary>
    internal static int CompareVersions(string a, string b)
    {
        static (Version? Core, string Pre) Split(string v)
        {
            var core = v.Split('+')[0];
            var dash = core.IndexOf('-', StringComparison.Ordinal);
            var pre = dash < 0 ? string.Empty : core[(dash + 1)..];
            core = dash < 0 ? core : core[..dash];
            return (Version.TryParse(core.Count(c => c == '.') == 0 ? core + ".0" : core, out var parsed) ? parsed : null, pre);
        }
        var (ca, pa) = Split(a);
        var (cb, pb) = Split(b);
        if (ca is null || cb is null)
        {
            return string.CompareOrdinal(a, b);
        }
        var byCore = ca.CompareTo(cb);
        if (byCore != 0)
        {
            return byCore;
        }
        return (pa.Length == 0, pb.Length == 0) switch
        {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => -1,
            _ => string.CompareOrdinal(pa, pb),
        };
    }

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
            _current = new Snapshot([], []);
            current.Retire(current.Models);
        }
    }

    /// <summary>One generation of served models; counts its leases so replaced sessions outlive the work using them.</summary>
    internal sealed class Snapshot(IReadOnlyList<LoadedModel> models, IReadOnlyList<ModelLoadError> errors)
    {
        private int _leases;
        private volatile bool _retired;
        private int _disposedRetired;
        private IReadOnlyList<LoadedModel> _dropped = [];

        public IReadOnlyList<LoadedModel> Models { get; } = models;

        public IReadOnlyList<ModelLoadError> Errors { get; } = errors;

        public bool TryEnter()
        {
            Interlocked.Increment(ref _leases);
            if (_retired)
            {
                Exit();
                return false;
            }
            return true;
        }

        public void Exit()
        {
            if (Interlocked.Decrement(ref _leases) == 0 && _retired)
            {
                DisposeDropped();
            }
        }

        /// <summary>No new leases from now on; <paramref name="dropped"/> are disposed when the last lease ends.</summary>
        public void Retire(IReadOnlyList<LoadedModel> dropped)
        {
            _dropped = dropped;
            _retired = true;
            if (Volatile.Read(ref _leases) == 0)
            {
                DisposeDropped();
            }
        }

        private void DisposeDropped()
        {
            if (Interlocked.Exchange(ref _disposedRetired, 1) == 0)
            {
                foreach (var model in _dropped)
                {
                    model.Dispose();
                }
            }
        }
    }
}

/// <summary>The models of one snapshot, pinned until disposed (see <see cref="ModelRegistry.Acquire"/>).</summary>
public sealed class ModelLease : IDisposable
{
    private ModelRegistry.Snapshot? _snapshot;

    internal ModelLease(ModelRegistry.Snapshot snapshot)
    {
        _snapshot = snapshot;
        Models = snapshot.Models;
    }

    public IReadOnlyList<LoadedModel> Models { get; }

    public IEnumerable<LoadedModel> ModelsFor(string? modality) =>
        modality is null ? [] : Models.Where(m => m.AppliesTo(modality));

    public void Dispose() => Interlocked.Exchange(ref _snapshot, null)?.Exit();
}
