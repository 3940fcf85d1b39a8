//! `kat._kat`: the native module behind the `kat` Python package.
//!
//! A thin layer over kat's Rust API: every read calls the core directly
//! (no copy, no lock), events convert their Python list once and apply it
//! atomically, and the immutable mappings (`assignments()`, `generations()`)
//! are built once per change and then handed out again as the same object.
//!
//! Inputs are never truncated or wrapped: names are passed with their length
//! (an embedded NUL is an error for events and simply never matches in
//! reads), and partitions outside `0..=2**31-1` raise `InvalidPartitionError`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyMapping, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use kat::{ErrorKind, GroupView, Snapshot, Status};

// ---------------------------------------------------------------------------
// Errors: the classes live in `kat._errors` (Python, so they can also be
// `ValueError`s); they are looked up once.

static ERRORS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn error_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let module = ERRORS.get_or_try_init(py, || {
        py.import("kat._errors").map(|m| m.into_any().unbind())
    })?;
    module.bind(py).getattr(name)
}

fn raise(
    py: Python<'_>,
    name: &str,
    message: String,
    element: Option<usize>,
    reason: &str,
) -> PyErr {
    match error_class(py, name) {
        Ok(class) => match class.call1((message, element, reason)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

fn kat_error(py: Python<'_>, e: kat::Error) -> PyErr {
    let class = match e.kind() {
        ErrorKind::InvalidGroup => "InvalidGroupError",
        ErrorKind::InvalidTopic => "InvalidTopicError",
        ErrorKind::InvalidPartition => "InvalidPartitionError",
        ErrorKind::InvalidList => "InvalidListError",
        ErrorKind::Forked => "ForkedError",
        _ => "InvalidArgumentError",
    };
    raise(py, class, e.to_string(), e.element(), e.reason())
}

fn list_error(py: Python<'_>, element: usize, reason: String) -> PyErr {
    raise(
        py,
        "InvalidListError",
        format!("element {element}: {reason}"),
        Some(element),
        &reason,
    )
}

// ---------------------------------------------------------------------------
// Input conversion.

/// A partition number: an `int` (not a `bool`) in `0..=i32::MAX`.
fn partition_of(py: Python<'_>, value: &Bound<'_, PyAny>, element: Option<usize>) -> PyResult<i32> {
    let at = |reason: String| match element {
        Some(i) => raise(
            py,
            "InvalidPartitionError",
            format!("element {i}: {reason}"),
            Some(i),
            &reason,
        ),
        None => raise(py, "InvalidPartitionError", reason.clone(), None, &reason),
    };
    if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
        let reason = format!(
            "partition must be an int, not {}",
            value
                .get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        );
        return Err(match element {
            Some(i) => list_error(py, i, reason),
            None => PyTypeError::new_err(reason),
        });
    }
    match value.extract::<i64>() {
        Ok(p) if (0..=i64::from(i32::MAX)).contains(&p) => Ok(p as i32),
        Ok(p) => Err(at(format!("partition {p} is outside 0..=2147483647"))),
        Err(_) => Err(at(format!("partition {value} is outside 0..=2147483647"))),
    }
}

/// A name argument of a read: any `str`. Names that cannot be encoded
/// (lone surrogates) are never assigned.
fn name_of<'a>(value: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Option<&'a str>> {
    let s = value
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a str")))?;
    Ok(s.to_str().ok())
}

/// The partitions of an event, from a mapping `{topic: [partitions]}` or an
/// iterable of `(topic, partition)` pairs or of objects with `.topic` and
/// `.partition` (confluent-kafka's `TopicPartition`).
fn partitions_of(py: Python<'_>, list: &Bound<'_, PyAny>) -> PyResult<Vec<(String, i32)>> {
    let mut out = Vec::new();
    if list.is_instance_of::<PyString>() || list.is_none() {
        return Err(PyTypeError::new_err(
            "partitions must be a mapping of topic to partitions or an iterable of (topic, partition)",
        ));
    }
    let topic_of = |i: usize, t: &Bound<'_, PyAny>| -> PyResult<String> {
        let s = t
            .cast::<PyString>()
            .map_err(|_| list_error(py, i, "topic must be a str".into()))?;
        s.to_str()
            .map(str::to_owned)
            .map_err(|_| list_error(py, i, "topic is not valid UTF-8".into()))
    };
    if let Ok(mapping) = list.cast::<PyMapping>() {
        for item in mapping.items()?.iter() {
            let (topic, parts): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let name = topic_of(out.len(), &topic)?;
            if parts.is_instance_of::<PyString>() {
                return Err(list_error(py, out.len(), "partitions must be ints".into()));
            }
            for p in parts.try_iter()? {
                let i = out.len();
                let p = partition_of(py, &p?, Some(i))?;
                out.push((name.clone(), p));
            }
        }
        return Ok(out);
    }
    for item in list.try_iter()? {
        let item = item?;
        let i = out.len();
        let (topic, partition) = if let Ok(t) = item.cast::<PyTuple>() {
            if t.len() != 2 {
                return Err(list_error(
                    py,
                    i,
                    "expected a (topic, partition) pair".into(),
                ));
            }
            (t.get_item(0)?, t.get_item(1)?)
        } else if let (Ok(t), Ok(p)) = (item.getattr("topic"), item.getattr("partition")) {
            (t, p)
        } else {
            return Err(list_error(
                py,
                i,
                "expected a (topic, partition) pair or a TopicPartition".into(),
            ));
        };
        let name = topic_of(i, &topic)?;
        let p = partition_of(py, &partition, Some(i))?;
        out.push((name, p));
    }
    Ok(out)
}

fn group_name_of(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<String> {
    let s = name
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("group name must be a str"))?;
    s.to_str().map(str::to_owned).map_err(|_| {
        let reason = "group name is not valid UTF-8".to_string();
        raise(py, "InvalidGroupError", reason.clone(), None, &reason)
    })
}

// ---------------------------------------------------------------------------
// Immutable values.

static MAPPING_PROXY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `types.MappingProxyType(dict)`: a read-only view of a dict nobody else holds.
fn frozen<'py>(py: Python<'py>, dict: Bound<'py, PyDict>) -> PyResult<Bound<'py, PyAny>> {
    let proxy = MAPPING_PROXY.get_or_try_init(py, || {
        py.import("types")?
            .getattr("MappingProxyType")
            .map(Bound::unbind)
    })?;
    proxy.bind(py).call1((dict,))
}

fn status_str(py: Python<'_>, status: Option<Status>) -> Bound<'_, PyAny> {
    match status {
        Some(Status::Assigned) => pyo3::intern!(py, "assigned").clone().into_any(),
        Some(Status::Revoked) => pyo3::intern!(py, "revoked").clone().into_any(),
        Some(Status::Lost) => pyo3::intern!(py, "lost").clone().into_any(),
        None => py.None().into_bound(py),
    }
}

/// The generation and status of one key, read at one instant.
#[pyclass(frozen, eq, hash, module = "kat")]
#[derive(PartialEq, Eq, Hash, Clone, Copy)]
struct PartitionState {
    generation: u64,
    status: Option<Status>,
}

#[pymethods]
impl PartitionState {
    /// Times the group was assigned the partition (0 = never).
    #[getter]
    fn generation(&self) -> u64 {
        self.generation
    }

    /// `"assigned"`, `"revoked"`, `"lost"`, or `None` if never assigned.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        status_str(py, self.status)
    }

    /// Whether the partition is assigned now.
    #[getter]
    fn is_assigned(&self) -> bool {
        self.status == Some(Status::Assigned)
    }

    /// Whether the partition is assigned now at exactly `generation`.
    fn owned_at(&self, generation: u64) -> bool {
        self.status == Some(Status::Assigned) && self.generation == generation
    }

    fn __repr__(&self) -> String {
        match self.status {
            Some(s) => format!(
                "PartitionState(generation={}, status='{}')",
                self.generation,
                s.as_str()
            ),
            None => format!(
                "PartitionState(generation={}, status=None)",
                self.generation
            ),
        }
    }
}

impl From<kat::PartitionState> for PartitionState {
    fn from(s: kat::PartitionState) -> Self {
        PartitionState {
            generation: s.generation,
            status: s.status,
        }
    }
}

/// A group's event counters.
#[pyclass(frozen, eq, hash, get_all, module = "kat")]
#[derive(PartialEq, Eq, Hash, Clone, Copy)]
struct GroupStats {
    assigned_events: u64,
    revoked_events: u64,
    lost_events: u64,
    reset_events: u64,
    last_change_unix_ms: u64,
}

#[pymethods]
impl GroupStats {
    fn __repr__(&self) -> String {
        format!(
            "GroupStats(assigned_events={}, revoked_events={}, lost_events={}, reset_events={}, last_change_unix_ms={})",
            self.assigned_events,
            self.revoked_events,
            self.lost_events,
            self.reset_events,
            self.last_change_unix_ms
        )
    }
}

/// `{topic: (partitions...)}` of one group view.
fn group_assignments<'py>(
    py: Python<'py>,
    view: Option<&GroupView>,
) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    if let Some(view) = view {
        for t in view.topics() {
            let parts = PyTuple::new(py, t.partitions().iter().map(|p| p.partition))?;
            dict.set_item(t.name(), parts)?;
        }
    }
    frozen(py, dict)
}

/// `{topic: {partition: PartitionState}}` of one group view.
fn group_generations<'py>(
    py: Python<'py>,
    view: Option<&GroupView>,
) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    if let Some(view) = view {
        for t in view.known_topics() {
            let parts = PyDict::new(py);
            for r in t.records() {
                let state = PartitionState {
                    generation: r.generation,
                    status: Some(r.status),
                };
                parts.set_item(r.partition, Py::new(py, state)?)?;
            }
            dict.set_item(t.name(), frozen(py, parts)?)?;
        }
    }
    frozen(py, dict)
}

fn snapshot_assignments<'py>(py: Python<'py>, snap: &Snapshot) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    for g in snap.groups() {
        dict.set_item(g.name(), group_assignments(py, Some(g))?)?;
    }
    frozen(py, dict)
}

fn snapshot_generations<'py>(py: Python<'py>, snap: &Snapshot) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    for g in snap.groups() {
        if !g.known_topics().is_empty() {
            dict.set_item(g.name(), group_generations(py, Some(g))?)?;
        }
    }
    frozen(py, dict)
}

fn group_view(snap: &Snapshot, name: &str) -> Option<Arc<GroupView>> {
    snap.groups().find(name).cloned()
}

/// A value built from one snapshot, kept until the tracker changes.
///
/// The lock is held only to read or swap the entry, never while Python code
/// runs (building values allocates, and a collection could run finalizers
/// that read the tracker again).
struct EpochCache {
    entry: Mutex<Option<CacheEntry>>,
}

struct CacheEntry {
    epoch: u64,
    /// For per-group values: the group view it was built from; a change to
    /// another group advances the epoch but leaves this view shared.
    view: Option<Arc<GroupView>>,
    value: Py<PyAny>,
}

impl EpochCache {
    fn new() -> Self {
        EpochCache {
            entry: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CacheEntry>> {
        self.entry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn hit(&self, py: Python<'_>, epoch: u64) -> Option<Py<PyAny>> {
        let entry = self.lock();
        entry
            .as_ref()
            .filter(|e| e.epoch == epoch)
            .map(|e| e.value.clone_ref(py))
    }

    fn store(&self, entry: CacheEntry) {
        let old = {
            let mut slot = self.lock();
            // Never replace a newer entry with an older one.
            if slot.as_ref().is_some_and(|e| e.epoch > entry.epoch) {
                Some(entry)
            } else {
                slot.replace(entry)
            }
        };
        drop(old);
    }

    /// The value for the tracker as of now: the cached one if the epoch did
    /// not move, else `build(snapshot)`.
    fn tracker_value(
        &self,
        py: Python<'_>,
        tracker: &kat::Tracker,
        build: impl FnOnce(Python<'_>, &Snapshot) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(v) = self.hit(py, tracker.epoch()) {
            return Ok(v);
        }
        let snap = tracker.snapshot();
        let value = build(py, &snap)?;
        self.store(CacheEntry {
            epoch: snap.epoch(),
            view: None,
            value: value.clone_ref(py),
        });
        Ok(value)
    }

    /// The value for one group as of now, rebuilt only when that group's
    /// view changed.
    fn group_value(
        &self,
        py: Python<'_>,
        tracker: &kat::Tracker,
        name: &str,
        build: impl FnOnce(Python<'_>, Option<&GroupView>) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(v) = self.hit(py, tracker.epoch()) {
            return Ok(v);
        }
        let snap = tracker.snapshot();
        let view = group_view(&snap, name);
        let same = {
            let entry = self.lock();
            entry.as_ref().and_then(|e| {
                let unchanged = match (&e.view, &view) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                unchanged.then(|| e.value.clone_ref(py))
            })
        };
        let value = match same {
            Some(v) => v,
            None => build(py, view.as_deref())?,
        };
        self.store(CacheEntry {
            epoch: snap.epoch(),
            view,
            value: value.clone_ref(py),
        });
        Ok(value)
    }
}

// ---------------------------------------------------------------------------
// Tracker.

/// A registry of the partitions this process owns, by group.
#[pyclass(frozen, weakref, module = "kat")]
struct Tracker {
    inner: kat::Tracker,
    assignments: EpochCache,
    generations: EpochCache,
    /// The `Group` object of each name asked for, so that `group(name)`
    /// returns the same object (and its caches) every time. Group objects
    /// refer back to the tracker: the cycle is known to the garbage
    /// collector (`__traverse__` / `__clear__`).
    groups: Mutex<HashMap<String, Py<Group>>>,
}

static GLOBAL: PyOnceLock<Py<Tracker>> = PyOnceLock::new();

impl Tracker {
    fn wrap(inner: kat::Tracker) -> Tracker {
        Tracker {
            inner,
            assignments: EpochCache::new(),
            generations: EpochCache::new(),
            groups: Mutex::new(HashMap::new()),
        }
    }

    fn lock_groups(&self) -> std::sync::MutexGuard<'_, HashMap<String, Py<Group>>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn timeout_of(py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Duration>> {
    match timeout {
        None => Ok(None),
        Some(t) if t.is_finite() && t >= 0.0 => Ok(Some(
            Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX),
        )),
        Some(t) => {
            let reason = format!("timeout must be a finite number of seconds >= 0, not {t}");
            Err(raise(
                py,
                "InvalidArgumentError",
                reason.clone(),
                None,
                &reason,
            ))
        }
    }
}

#[pymethods]
impl Tracker {
    /// A new, independent tracker (use `kat.tracker()` for the process-wide one).
    #[new]
    #[pyo3(signature = (generations_topics_limit = None))]
    fn new(py: Python<'_>, generations_topics_limit: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let inner = match generations_topics_limit {
            None => kat::Tracker::new(),
            Some(limit) => kat::Tracker::with_generations_topics_limit(limit_of(py, limit)?),
        };
        Ok(Tracker::wrap(inner))
    }

    /// The group with this name (get-or-create).
    fn group(slf: &Bound<'_, Self>, name: &Bound<'_, PyAny>) -> PyResult<Py<Group>> {
        let py = slf.py();
        let this = slf.get();
        let name = group_name_of(py, name)?;
        if let Some(g) = this.lock_groups().get(&name) {
            return Ok(g.clone_ref(py));
        }
        let group = this.inner.group(&name).map_err(|e| kat_error(py, e))?;
        let created = Py::new(
            py,
            Group {
                inner: group,
                tracker: slf.clone().unbind(),
                assignments: EpochCache::new(),
                generations: EpochCache::new(),
            },
        )?;
        // Another thread may have created it meanwhile: the first one stays.
        let chosen = this
            .lock_groups()
            .entry(name)
            .or_insert_with(|| created.clone_ref(py))
            .clone_ref(py);
        drop(created);
        Ok(chosen)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // Never blocks: a map locked by another thread is skipped (its
        // groups then look referenced from outside, and are kept).
        if let Ok(groups) = self.groups.try_lock() {
            for g in groups.values() {
                visit.call(g)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        let groups = std::mem::take(&mut *self.lock_groups());
        drop(groups);
    }

    /// The current epoch: advances by one on every change.
    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    /// The generation of a key (0 if never assigned).
    fn generation(
        &self,
        py: Python<'_>,
        group: &Bound<'_, PyAny>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let p = partition_of(py, partition, None)?;
        match (name_of(group, "group")?, name_of(topic, "topic")?) {
            (Some(g), Some(t)) => Ok(self.inner.generation(g, t, p)),
            _ => Ok(0),
        }
    }

    /// Whether `group` owns the partition now.
    fn is_assigned(
        &self,
        py: Python<'_>,
        group: &Bound<'_, PyAny>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let p = partition_of(py, partition, None)?;
        match (name_of(group, "group")?, name_of(topic, "topic")?) {
            (Some(g), Some(t)) => Ok(self.inner.is_assigned(g, t, p)),
            _ => Ok(false),
        }
    }

    /// `{group: {topic: (partitions...)}}`, read-only, the same object until
    /// the tracker changes.
    fn assignments(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.assignments.tracker_value(py, &self.inner, |py, s| {
            Ok(snapshot_assignments(py, s)?.unbind())
        })
    }

    /// `{group: {topic: {partition: PartitionState}}}` of every key ever
    /// assigned (revoked and lost included), read-only, cached per epoch.
    fn generations(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.generations.tracker_value(py, &self.inner, |py, s| {
            Ok(snapshot_generations(py, s)?.unbind())
        })
    }

    /// An immutable view of the tracker at one epoch.
    fn snapshot(&self) -> TrackerSnapshot {
        TrackerSnapshot {
            inner: self.inner.snapshot(),
            assignments: PyOnceLock::new(),
        }
    }

    /// The current assignments as JSON.
    fn to_json(&self) -> String {
        self.inner.snapshot().to_json()
    }

    /// Every generation (with status) as JSON.
    fn generations_json(&self) -> String {
        self.inner.generations().to_json()
    }

    /// Blocks until the epoch differs from `epoch` or `timeout` seconds pass
    /// (None: no limit), and returns the epoch then. Releases the GIL; Ctrl-C
    /// interrupts it.
    #[pyo3(signature = (epoch, timeout = None))]
    fn wait_for_change(&self, py: Python<'_>, epoch: u64, timeout: Option<f64>) -> PyResult<u64> {
        let mut left = timeout_of(py, timeout)?;
        // Waits in slices so that signals (KeyboardInterrupt) are seen.
        const SLICE: Duration = Duration::from_millis(100);
        loop {
            let wait = left.map_or(SLICE, |l| l.min(SLICE));
            let inner = &self.inner;
            let now = py.detach(|| inner.wait_for_change(epoch, wait));
            if now != epoch {
                return Ok(now);
            }
            if let Some(l) = left.as_mut() {
                *l = l.saturating_sub(wait);
                if l.is_zero() {
                    return Ok(now);
                }
            }
            py.check_signals()?;
        }
    }

    /// The tracker's metrics as Prometheus text (`format="prometheus"`, the
    /// default) or OpenMetrics (`format="openmetrics"`); see the README's
    /// Monitoring section. For scrapes, not hot paths.
    #[pyo3(signature = (format = "prometheus"))]
    fn metrics(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        let format = match format {
            "prometheus" => kat::MetricsFormat::Prometheus,
            "openmetrics" => kat::MetricsFormat::OpenMetrics,
            other => {
                let reason = format!("format must be 'prometheus' or 'openmetrics', not {other:?}");
                return Err(raise(
                    py,
                    "InvalidArgumentError",
                    reason.clone(),
                    None,
                    &reason,
                ));
            }
        };
        Ok(self.inner.metrics(format))
    }

    /// Removes every assignment and generation. Returns whether anything changed.
    fn clear(&self, py: Python<'_>) -> PyResult<bool> {
        self.inner.writable().map_err(|e| kat_error(py, e))?;
        Ok(self.inner.clear())
    }

    /// The bound on retained (group, topic) generation entries.
    #[getter]
    fn get_generations_topics_limit(&self) -> usize {
        self.inner.generations_topics_limit()
    }

    #[setter]
    fn set_generations_topics_limit(
        &self,
        py: Python<'_>,
        limit: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let limit = limit_of(py, limit)?;
        self.inner
            .set_generations_topics_limit(limit)
            .map_err(|e| kat_error(py, e))
    }

    fn __repr__(&self) -> String {
        let snap = self.inner.peek();
        format!(
            "<kat.Tracker epoch={} groups={} partitions={}>",
            snap.epoch(),
            snap.groups().len(),
            snap.partition_count()
        )
    }
}

fn limit_of(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
    if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "generations_topics_limit must be an int",
        ));
    }
    match value.extract::<u64>() {
        Ok(v) if v >= 1 && usize::try_from(v).is_ok() => Ok(v as usize),
        _ => {
            let reason = format!(
                "generations_topics_limit must be at least 1 and fit in 64 bits, not {value}"
            );
            Err(raise(
                py,
                "InvalidArgumentError",
                reason.clone(),
                None,
                &reason,
            ))
        }
    }
}

/// The process-wide tracker (the same object on every call).
#[pyfunction]
fn tracker(py: Python<'_>) -> PyResult<Py<Tracker>> {
    GLOBAL
        .get_or_try_init(py, || {
            Py::new(py, Tracker::wrap(kat::Tracker::global().clone()))
        })
        .map(|t| t.clone_ref(py))
}

// ---------------------------------------------------------------------------
// Snapshot.

/// The tracker at one epoch; never changes.
#[pyclass(frozen, name = "Snapshot", module = "kat")]
struct TrackerSnapshot {
    inner: Arc<Snapshot>,
    assignments: PyOnceLock<Py<PyAny>>,
}

#[pymethods]
impl TrackerSnapshot {
    /// The epoch this snapshot was published at.
    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    fn generation(
        &self,
        py: Python<'_>,
        group: &Bound<'_, PyAny>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let p = partition_of(py, partition, None)?;
        match (name_of(group, "group")?, name_of(topic, "topic")?) {
            (Some(g), Some(t)) => Ok(self.inner.generation(g, t, p)),
            _ => Ok(0),
        }
    }

    fn is_assigned(
        &self,
        py: Python<'_>,
        group: &Bound<'_, PyAny>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let p = partition_of(py, partition, None)?;
        match (name_of(group, "group")?, name_of(topic, "topic")?) {
            (Some(g), Some(t)) => Ok(self.inner.is_assigned(g, t, p)),
            _ => Ok(false),
        }
    }

    /// `{group: {topic: (partitions...)}}` at this epoch.
    fn assignments(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.assignments
            .get_or_try_init(py, || {
                Ok::<_, PyErr>(snapshot_assignments(py, &self.inner)?.unbind())
            })
            .map(|v| v.clone_ref(py))
    }

    /// `{group: {topic: {partition: PartitionState}}}` at this epoch.
    fn generations(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(snapshot_generations(py, &self.inner)?.unbind())
    }

    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    fn generations_json(&self) -> String {
        self.inner.generations().to_json()
    }

    fn __repr__(&self) -> String {
        format!(
            "<kat.Snapshot epoch={} groups={} partitions={}>",
            self.inner.epoch(),
            self.inner.groups().len(),
            self.inner.partition_count()
        )
    }
}

// ---------------------------------------------------------------------------
// Group.

/// One consumer membership (one consumer in one consumer group), by name.
#[pyclass(frozen, module = "kat")]
struct Group {
    inner: kat::Group,
    tracker: Py<Tracker>,
    assignments: EpochCache,
    generations: EpochCache,
}

impl Group {
    fn event(
        &self,
        py: Python<'_>,
        partitions: &Bound<'_, PyAny>,
        apply: impl FnOnce(&kat::Group, &[(String, i32)]) -> Result<bool, kat::Error>,
    ) -> PyResult<bool> {
        let list = partitions_of(py, partitions)?;
        apply(&self.inner, &list).map_err(|e| kat_error(py, e))
    }
}

fn pairs(list: &[(String, i32)]) -> impl Iterator<Item = (&str, i32)> {
    list.iter().map(|(t, p)| (t.as_str(), *p))
}

#[pymethods]
impl Group {
    /// The group name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The tracker this group belongs to.
    #[getter]
    fn tracker(&self, py: Python<'_>) -> Py<Tracker> {
        self.tracker.clone_ref(py)
    }

    /// Partitions were assigned (incrementally): +1 generation each.
    fn assigned(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.event(py, partitions, |g, l| g.assigned(pairs(l)))
    }

    /// Partitions were revoked in an orderly way.
    fn revoked(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.event(py, partitions, |g, l| g.revoked(pairs(l)))
    }

    /// The assignment becomes exactly the list (an eager assign).
    fn replace(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.event(py, partitions, |g, l| g.replace(pairs(l)))
    }

    /// The assignment was lost.
    fn lost(&self, py: Python<'_>) -> PyResult<bool> {
        self.inner
            .tracker()
            .writable()
            .map_err(|e| kat_error(py, e))?;
        Ok(self.inner.lost())
    }

    /// The client was reset or re-created.
    fn reset(&self, py: Python<'_>) -> PyResult<bool> {
        self.inner
            .tracker()
            .writable()
            .map_err(|e| kat_error(py, e))?;
        Ok(self.inner.reset())
    }

    fn generation(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let p = partition_of(py, partition, None)?;
        Ok(name_of(topic, "topic")?.map_or(0, |t| self.inner.generation(t, p)))
    }

    fn is_assigned(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let p = partition_of(py, partition, None)?;
        Ok(name_of(topic, "topic")?.is_some_and(|t| self.inner.is_assigned(t, p)))
    }

    /// `{topic: (partitions...)}` owned now, read-only, the same object until
    /// this group changes.
    fn assignments(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let tracker = &self.tracker.get().inner;
        self.assignments
            .group_value(py, tracker, self.inner.name(), |py, v| {
                Ok(group_assignments(py, v)?.unbind())
            })
    }

    /// `{topic: {partition: PartitionState}}` of every key this group was
    /// ever assigned, read-only, cached until this group changes.
    fn generations(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let tracker = &self.tracker.get().inner;
        self.generations
            .group_value(py, tracker, self.inner.name(), |py, v| {
                Ok(group_generations(py, v)?.unbind())
            })
    }

    /// Records that the consumer polled now: call it after every poll (the
    /// `kat.confluent.poll` / `consume` wrappers do). Lock-free; publishes
    /// nothing (the epoch does not move).
    fn mark_poll(&self) {
        self.inner.mark_poll();
    }

    /// How many poll marks the group received (shared by every `Group` of
    /// this name on this tracker).
    fn poll_count(&self) -> u64 {
        self.inner.poll_count()
    }

    /// Seconds since the last poll mark (monotonic clock), or `None` if the
    /// group was never marked.
    fn since_last_poll(&self) -> Option<f64> {
        self.inner.since_last_poll().map(|d| d.as_secs_f64())
    }

    /// Arms (or with 0 disarms) the poll deadline: if no poll mark comes for
    /// `interval - margin` seconds, kat's own timer thread marks every
    /// partition of the group lost, with no call from the thread that
    /// stopped polling. Pass the consumer's `max.poll.interval.ms` / 1000.
    #[pyo3(signature = (interval, margin = 0.0))]
    fn set_poll_deadline(&self, py: Python<'_>, interval: f64, margin: f64) -> PyResult<()> {
        let interval = timeout_of(py, Some(interval))?.unwrap_or_default();
        let margin = timeout_of(py, Some(margin))?.unwrap_or_default();
        self.inner
            .set_poll_deadline(interval, margin)
            .map_err(|e| kat_error(py, e))
    }

    /// The group's poll marks, armed deadline and expiries.
    fn poll_stats(&self) -> PollStats {
        let s = self.inner.poll_stats();
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        PollStats {
            deadline: secs(s.deadline),
            polls: s.polls,
            since_last_poll: secs(s.since_last_poll),
            expirations: s.expirations,
            last_expiry_delay: secs(s.last_expiry_delay),
        }
    }

    /// Records the broker's view of the membership: the generation id or
    /// member epoch (0: unknown) and the member id, read into tokens.
    #[pyo3(signature = (generation, member_id = None))]
    fn record_broker_generation(&self, generation: i32, member_id: Option<&str>) {
        self.inner.record_broker_generation(generation, member_id);
    }

    /// The broker generation recorded last (0: unknown).
    fn broker_generation(&self) -> i32 {
        self.inner.broker_generation()
    }

    /// The member id recorded last, or None.
    fn member_id(&self) -> Option<String> {
        self.inner.member_id().map(|m| m.as_str().to_owned())
    }

    /// Sets how long an orderly revoke waits for leases on the revoked
    /// partitions (`drain()`); None or 0 turns it off (the default).
    #[pyo3(signature = (seconds))]
    fn set_drain_timeout(&self, py: Python<'_>, seconds: Option<f64>) -> PyResult<()> {
        let t = timeout_of(py, seconds)?.unwrap_or_default();
        self.inner.set_drain_timeout(t);
        Ok(())
    }

    /// The drain timeout and what the drains found.
    fn drain_stats(&self) -> DrainStats {
        let s = self.inner.drain_stats();
        DrainStats {
            timeout: s.timeout.map(|d| d.as_secs_f64()),
            drains: s.drains,
            timeouts: s.timeouts,
            last_held: s.last_held,
            held_total: s.held_total,
        }
    }

    /// The drain barrier of an orderly revoke, called before the unassign
    /// call: with a drain timeout set, records the revoke now (new leases
    /// fail, held ones stay valid), waits (without the GIL) until no lease on
    /// those partitions is held or the timeout passes, and returns how many
    /// were still held; without a timeout does nothing and returns None.
    fn drain(&self, py: Python<'_>, partitions: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
        let list = partitions_of(py, partitions)?;
        let inner = &self.inner;
        py.detach(|| inner.drain(pairs(&list)))
            .map_err(|e| kat_error(py, e))
    }

    /// Counts one rebalance the glue failed to handle for this group (an
    /// assign call the client refused, a list kat rejected). Lock-free; the
    /// epoch does not move.
    fn record_glue_failure(&self) {
        self.inner.record_glue_failure();
    }

    /// How many rebalances the glue failed to handle for this group (shared
    /// by every `Group` of this name on this tracker; kept by `clear()`).
    fn glue_failures(&self) -> u64 {
        self.inner.glue_failures()
    }

    /// The group's health, `(state, since_unix_ms)`: state is one of
    /// `"never_joined"`, `"standby"`, `"assigned"`, `"rebalancing"`, `"lost"`,
    /// `"stalled"`; since is when it began (0 for never joined).
    fn health(&self) -> (&'static str, u64) {
        let h = self.inner.health();
        (h.health.as_str(), h.since_unix_ms)
    }

    /// The group's rebalance history, oldest first, as JSON.
    fn history_json(&self) -> String {
        self.inner.history().to_json()
    }

    /// Makes `health()` report `"stalled"` once the last poll mark is older
    /// than `seconds` (None: never, the default).
    #[pyo3(signature = (seconds))]
    fn set_stall_after(&self, py: Python<'_>, seconds: Option<f64>) -> PyResult<()> {
        let after = timeout_of(py, seconds)?;
        self.inner.set_stall_after(after);
        Ok(())
    }

    /// The stall threshold in seconds, or None.
    fn stall_after(&self) -> Option<f64> {
        self.inner.stall_after().map(|d| d.as_secs_f64())
    }

    /// Tells the history which protocol the consumer follows (the adapter
    /// calls it on every rebalance). Takes the writers' lock.
    fn note_rebalance_protocol(&self, cooperative: bool) {
        self.inner.note_rebalance_protocol(cooperative);
    }

    /// Records in the history a rebalance that could not be applied.
    fn note_rebalance_error(&self, detail: &str) {
        self.inner.note_rebalance_error(detail);
    }

    /// The group's event counters.
    fn stats(&self) -> GroupStats {
        let s = self.inner.stats();
        GroupStats {
            assigned_events: s.assigned_events,
            revoked_events: s.revoked_events,
            lost_events: s.lost_events,
            reset_events: s.reset_events,
            last_change_unix_ms: s.last_change_unix_ms,
        }
    }

    /// A long-lived handle on one key: `state()` is one atomic load.
    fn partition(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<PartitionHandle> {
        let p = partition_of(py, partition, None)?;
        let t = topic
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("topic must be a str"))?;
        let t = t.to_str().map_err(|_| {
            let reason = "topic is not valid UTF-8".to_string();
            raise(py, "InvalidTopicError", reason.clone(), None, &reason)
        })?;
        let handle = self.inner.partition(t, p).map_err(|e| kat_error(py, e))?;
        Ok(PartitionHandle {
            inner: handle,
            group: self.inner.clone(),
            last: Mutex::new(None),
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let name = PyString::new(py, self.inner.name()).repr()?;
        Ok(format!("<kat.Group {name}>"))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.tracker)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Group>().is_ok_and(|o| {
            let o = o.get();
            o.inner.name() == self.inner.name() && o.tracker.is(&self.tracker)
        })
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.name().hash(&mut h);
        h.finish()
    }
}

// ---------------------------------------------------------------------------
// Partition handles.

/// A long-lived handle on one (group, topic, partition) key.
#[pyclass(frozen, module = "kat")]
struct PartitionHandle {
    inner: kat::PartitionHandle,
    /// The group (for the member id of tokens).
    group: kat::Group,
    /// The last state object handed out, reused while the state is the same
    /// (a read then allocates nothing).
    last: Mutex<Option<(PartitionState, Py<PartitionState>)>>,
}

#[pymethods]
impl PartitionHandle {
    /// The key's generation and status, from one atomic load.
    fn state(&self, py: Python<'_>) -> PyResult<Py<PartitionState>> {
        let now = PartitionState::from(self.inner.state());
        {
            let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((s, obj)) = last.as_ref() {
                if *s == now {
                    return Ok(obj.clone_ref(py));
                }
            }
        }
        let obj = Py::new(py, now)?;
        let old = self
            .last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace((now, obj.clone_ref(py)));
        drop(old);
        Ok(obj)
    }

    /// Whether the partition is assigned now at exactly `generation` (the
    /// check before a commit or a side effect). One atomic load.
    fn owned_at(&self, generation: u64) -> bool {
        self.inner.state().is_owned_at(generation)
    }

    /// The fencing token while the partition is assigned, else `None`: kat's
    /// generation and the broker generation read at one moment (three atomic
    /// loads), and the member id recorded at the last rebalance.
    fn token(&self) -> Option<FencingToken> {
        self.inner.token().map(|t| FencingToken {
            generation: t.generation,
            broker_generation: t.broker_generation,
            member_id: self.group.member_id().map(|m| m.as_str().to_owned()),
        })
    }

    /// Takes a lease on the partition at `generation`; raises
    /// `kat.NotOwnedError` unless it is assigned at exactly that generation.
    /// Lock-free. Use it as a context manager (released on exit) or call
    /// `release()`.
    fn lease(&self, py: Python<'_>, generation: u64) -> PyResult<Lease> {
        let handle = self.inner.clone();
        let Some(lease) = handle.lease(generation) else {
            let s = self.inner.state();
            let reason = format!(
                "{}[{}] of group {:?} is not owned at generation {generation} (generation {}, status {})",
                self.inner.topic(),
                self.inner.partition(),
                self.inner.group(),
                s.generation,
                s.status.map_or("None", Status::as_str)
            );
            return Err(raise(py, "NotOwnedError", reason.clone(), None, &reason));
        };
        // SAFETY: the lease borrows the handle's cell, which lives in the
        // handle's `Arc` allocation (its address never moves); the `Lease`
        // object keeps a clone of that handle and drops the lease first
        // (field order, and `release`), so the borrow never outlives it.
        let lease: kat::Lease<'static> = unsafe { std::mem::transmute(lease) };
        Ok(Lease {
            lease: Mutex::new(Some(lease)),
            generation,
            handle,
        })
    }

    /// Leases held on this partition now. One atomic load.
    fn leases_held(&self) -> u64 {
        self.inner.leases_held()
    }

    /// Blocks until the partition is no longer assigned at `generation`
    /// (revoked, lost, expired, reassigned) or `timeout` seconds pass (None:
    /// no limit); returns whether ownership ended. Releases the GIL; Ctrl-C
    /// interrupts it.
    #[pyo3(signature = (generation, timeout = None))]
    fn wait_not_owned(
        &self,
        py: Python<'_>,
        generation: u64,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let mut left = timeout_of(py, timeout)?;
        const SLICE: Duration = Duration::from_millis(100);
        loop {
            let wait = left.map_or(SLICE, |l| l.min(SLICE));
            let inner = &self.inner;
            if py.detach(|| inner.wait_not_owned(generation, wait)) {
                return Ok(true);
            }
            if let Some(l) = left.as_mut() {
                *l = l.saturating_sub(wait);
                if l.is_zero() {
                    return Ok(false);
                }
            }
            py.check_signals()?;
        }
    }

    #[getter]
    fn group(&self) -> &str {
        self.inner.group()
    }

    #[getter]
    fn topic(&self) -> &str {
        self.inner.topic()
    }

    #[getter]
    fn partition(&self) -> i32 {
        self.inner.partition()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = PartitionState::from(self.inner.state());
        Ok(format!(
            "<kat.PartitionHandle group={} topic={} partition={} generation={} status={}>",
            PyString::new(py, self.inner.group()).repr()?,
            self.inner.topic(),
            self.inner.partition(),
            s.generation,
            s.status.map_or("None", Status::as_str)
        ))
    }
}

// ---------------------------------------------------------------------------
// Ownership that ends on time: tokens, leases, poll and drain stats.

/// What a job carries into its own store's conditional write.
#[pyclass(frozen, eq, hash, get_all, module = "kat")]
#[derive(PartialEq, Eq, Hash, Clone)]
struct FencingToken {
    /// kat's generation of the partition (within this process).
    generation: u64,
    /// The broker's generation id / member epoch at the last rebalance
    /// recorded (0: unknown).
    broker_generation: i32,
    /// The member id recorded at the last rebalance, if any.
    member_id: Option<String>,
}

#[pymethods]
impl FencingToken {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let member = match &self.member_id {
            Some(m) => PyString::new(py, m).repr()?.to_string(),
            None => "None".to_string(),
        };
        Ok(format!(
            "FencingToken(generation={}, broker_generation={}, member_id={member})",
            self.generation, self.broker_generation
        ))
    }
}

/// A lease on a partition at a generation (see `PartitionHandle.lease`).
#[pyclass(frozen, module = "kat")]
struct Lease {
    /// Declared before `handle`: dropped first (it borrows the handle's cell).
    lease: Mutex<Option<kat::Lease<'static>>>,
    generation: u64,
    handle: kat::PartitionHandle,
}

impl Lease {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<kat::Lease<'static>>> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Lease {
    /// The generation the lease was taken at.
    #[getter]
    fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the lease is still held (not released).
    #[getter]
    fn held(&self) -> bool {
        self.lock().is_some()
    }

    /// Whether the work may still act on the partition: held, and the
    /// partition assigned at the lease's generation (or an orderly revoke
    /// draining it). False at once after a loss or a poll-deadline expiry.
    fn valid(&self) -> bool {
        self.lock().as_ref().is_some_and(|l| l.valid())
    }

    /// Releases the lease; false if it was already released.
    fn release(&self) -> bool {
        let lease = self.lock().take();
        lease.is_some()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.release();
        false
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<kat.Lease group={} topic={} partition={} generation={} held={}>",
            PyString::new(py, self.handle.group()).repr()?,
            self.handle.topic(),
            self.handle.partition(),
            self.generation,
            if self.held() { "True" } else { "False" }
        ))
    }
}

/// A group's poll marks, armed poll deadline and expiries.
#[pyclass(frozen, eq, get_all, module = "kat")]
#[derive(PartialEq, Clone, Copy)]
struct PollStats {
    /// The armed deadline in seconds (interval − margin), or None.
    deadline: Option<f64>,
    /// Poll marks received.
    polls: u64,
    /// Seconds since the last poll mark, or None if never marked.
    since_last_poll: Option<f64>,
    /// Times the deadline passed with no poll and kat marked the group lost.
    expirations: u64,
    /// Seconds after the deadline the last expiry was recorded, or None.
    last_expiry_delay: Option<f64>,
}

#[pymethods]
impl PollStats {
    fn __repr__(&self) -> String {
        let f = |v: Option<f64>| v.map_or("None".to_string(), |v| format!("{v}"));
        format!(
            "PollStats(deadline={}, polls={}, since_last_poll={}, expirations={}, last_expiry_delay={})",
            f(self.deadline),
            self.polls,
            f(self.since_last_poll),
            self.expirations,
            f(self.last_expiry_delay)
        )
    }
}

/// A group's drain timeout and what its drains found.
#[pyclass(frozen, eq, get_all, module = "kat")]
#[derive(PartialEq, Clone, Copy)]
struct DrainStats {
    /// The drain timeout in seconds, or None (off).
    timeout: Option<f64>,
    /// Drains run.
    drains: u64,
    /// Drains that reached the timeout with leases still held.
    timeouts: u64,
    /// Leases still held when the last drain ended.
    last_held: u64,
    /// Leases held at the timeout, over every drain.
    held_total: u64,
}

#[pymethods]
impl DrainStats {
    fn __repr__(&self) -> String {
        format!(
            "DrainStats(timeout={}, drains={}, timeouts={}, last_held={}, held_total={})",
            self.timeout.map_or("None".to_string(), |v| format!("{v}")),
            self.drains,
            self.timeouts,
            self.last_held,
            self.held_total
        )
    }
}

// ---------------------------------------------------------------------------

#[pymodule]
fn _kat(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Tracker>()?;
    m.add_class::<Group>()?;
    m.add_class::<TrackerSnapshot>()?;
    m.add_class::<PartitionHandle>()?;
    m.add_class::<PartitionState>()?;
    m.add_class::<GroupStats>()?;
    m.add_class::<FencingToken>()?;
    m.add_class::<Lease>()?;
    m.add_class::<PollStats>()?;
    m.add_class::<DrainStats>()?;
    m.add_function(wrap_pyfunction!(tracker, m)?)?;
    m.add("MAX_GROUP_NAME_LEN", kat::MAX_GROUP_NAME_LEN)?;
    m.add("MAX_TOPIC_NAME_LEN", kat::MAX_TOPIC_NAME_LEN)?;
    m.add("MAX_PARTITION", i32::MAX)?;
    m.add(
        "DEFAULT_GENERATIONS_TOPICS_LIMIT",
        kat::DEFAULT_GENERATIONS_TOPICS_LIMIT,
    )?;
    Ok(())
}
