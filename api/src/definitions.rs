//! Definitions: what a function or memory is, independent of any instance.

use crate::values::ValueType;
use kiln_runtime::ExportIndex;
use kiln_runtime::ExternType as EntityType;
use std::fmt;
use std::sync::Arc;

/// Describes a function: where it comes from, its names and its signature.
///
/// Cloning is cheap (shared).
#[derive(Clone)]
pub struct FunctionDefinition(pub(crate) Arc<FunctionDefinitionInner>);

pub(crate) struct FunctionDefinitionInner {
    pub module_name: String,
    pub index: u32,
    pub import: Option<(String, String)>,
    pub export_names: Vec<String>,
    pub name: String,
    pub debug_name: String,
    pub param_types: Vec<ValueType>,
    pub param_names: Vec<String>,
    pub result_types: Vec<ValueType>,
    pub result_names: Vec<String>,
    pub is_host: bool,
}

impl FunctionDefinition {
    /// Name of the module that defines (or, for an import, imports) the function.
    pub fn module_name(&self) -> &str {
        &self.0.module_name
    }

    /// Index in the module's function index space (imports first).
    pub fn index(&self) -> u32 {
        self.0.index
    }

    /// `(module, name)` of the import, when the function is imported.
    pub fn import(&self) -> Option<(&str, &str)> {
        self.0
            .import
            .as_ref()
            .map(|(m, n)| (m.as_str(), n.as_str()))
    }

    /// Names the function is exported under (possibly none, possibly several).
    pub fn export_names(&self) -> &[String] {
        &self.0.export_names
    }

    /// The name from the name section (or the host function's name), "" when unnamed.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// `module.name`, or `module.$index` for an unnamed function.
    pub fn debug_name(&self) -> &str {
        &self.0.debug_name
    }

    /// Parameter types.
    pub fn param_types(&self) -> &[ValueType] {
        &self.0.param_types
    }

    /// Parameter names (from the name section or the host builder; "" where unnamed).
    pub fn param_names(&self) -> &[String] {
        &self.0.param_names
    }

    /// Result types.
    pub fn result_types(&self) -> &[ValueType] {
        &self.0.result_types
    }

    /// Result names (from the host builder; "" where unnamed).
    pub fn result_names(&self) -> &[String] {
        &self.0.result_names
    }

    /// Whether a host function implements it.
    pub fn is_host_function(&self) -> bool {
        self.0.is_host
    }
}

impl fmt::Debug for FunctionDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FunctionDefinition({}", self.debug_name())?;
        write!(
            f,
            "({:?}) -> {:?})",
            self.param_types(),
            self.result_types()
        )
    }
}

/// Builds the definition of function `index` of `module` (a Wasm module).
pub(crate) fn wasm_function_definition(
    module: &kiln_runtime::Module,
    module_name: &str,
    index: u32,
    export_names: Vec<String>,
) -> FunctionDefinition {
    let ty = module
        .func_type(index)
        .cloned()
        .unwrap_or_else(|| kiln_runtime::FuncType::new([], []));
    let import = (index < module.num_imported_funcs()).then(|| {
        let imp = module
            .imports()
            .filter(|i| matches!(i.ty, kiln_runtime::ExternType::Func(_)))
            .nth(index as usize)
            .expect("imported function index in range");
        (imp.module.clone(), imp.name.clone())
    });
    let name = module.func_name(index).unwrap_or("").to_string();
    let debug_name = if name.is_empty() {
        format!("{module_name}.${index}")
    } else {
        format!("{module_name}.{name}")
    };
    let param_names = (0..ty.params().len() as u32)
        .map(|i| module.local_name(index, i).unwrap_or("").to_string())
        .collect();
    FunctionDefinition(Arc::new(FunctionDefinitionInner {
        module_name: module_name.to_string(),
        index,
        import,
        export_names,
        name,
        debug_name,
        param_types: ty.params().to_vec(),
        param_names,
        result_types: ty.results().to_vec(),
        result_names: vec![String::new(); ty.results().len()],
        is_host: false,
    }))
}

/// Export names of every exported function, by function index.
pub(crate) fn function_export_names(
    module: &kiln_runtime::Module,
) -> std::collections::HashMap<u32, Vec<String>> {
    let mut map: std::collections::HashMap<u32, Vec<String>> = Default::default();
    for (name, _) in module.exports() {
        if let Some(ExportIndex::Func(i)) = module.export_index(name) {
            map.entry(i).or_default().push(name.to_string());
        }
    }
    map
}

/// Describes a memory: its limits and where it is imported from or exported as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryDefinition {
    pub(crate) module_name: String,
    pub(crate) index: u32,
    pub(crate) import: Option<(String, String)>,
    pub(crate) export_names: Vec<String>,
    pub(crate) min: u32,
    pub(crate) max: Option<u32>,
}

impl MemoryDefinition {
    /// Name of the module.
    pub fn module_name(&self) -> &str {
        &self.module_name
    }

    /// Index in the module's memory index space.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// `(module, name)` of the import, when imported.
    pub fn import(&self) -> Option<(&str, &str)> {
        self.import.as_ref().map(|(m, n)| (m.as_str(), n.as_str()))
    }

    /// Export names.
    pub fn export_names(&self) -> &[String] {
        &self.export_names
    }

    /// Minimum size in pages.
    pub fn min(&self) -> u32 {
        self.min
    }

    /// Maximum size in pages, if declared.
    pub fn max(&self) -> Option<u32> {
        self.max
    }
}

pub(crate) fn memory_definitions(
    module: &kiln_runtime::Module,
    module_name: &str,
) -> Vec<MemoryDefinition> {
    let imports: Vec<(String, String)> = module
        .imports()
        .filter(|i| matches!(i.ty, kiln_runtime::ExternType::Memory(_)))
        .map(|i| (i.module.clone(), i.name.clone()))
        .collect();
    module
        .memories()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let index = i as u32;
            MemoryDefinition {
                module_name: module_name.to_string(),
                index,
                import: imports.get(i).cloned(),
                export_names: module
                    .exports()
                    .filter(|(name, _)| {
                        module.export_index(name) == Some(ExportIndex::Memory(index))
                    })
                    .map(|(name, _)| name.to_string())
                    .collect(),
                min: m.limits.min as u32,
                max: m.limits.max.map(|x| x as u32),
            }
        })
        .collect()
}

/// A custom section of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomSection {
    pub(crate) name: String,
    pub(crate) data: Arc<[u8]>,
}

impl CustomSection {
    /// The section name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The section payload.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// One import of a module: the module and name it is imported from, and the type the
/// providing export must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportDefinition {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) ty: EntityType,
}

impl ImportDefinition {
    /// Name of the module it is imported from.
    pub fn module(&self) -> &str {
        &self.module
    }

    /// Name of the import within that module.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What is imported, with its type.
    pub fn ty(&self) -> &EntityType {
        &self.ty
    }
}

/// One export of a module: its name and the type of what it exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportDefinition {
    pub(crate) name: String,
    pub(crate) ty: EntityType,
}

impl ExportDefinition {
    /// The export name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What is exported, with its type.
    pub fn ty(&self) -> &EntityType {
        &self.ty
    }
}

/// The imports of `module`, in order.
pub(crate) fn import_definitions(module: &kiln_runtime::Module) -> Vec<ImportDefinition> {
    module
        .imports()
        .map(|i| ImportDefinition {
            module: i.module.clone(),
            name: i.name.clone(),
            ty: i.ty.clone(),
        })
        .collect()
}

/// The exports of `module`, in order.
pub(crate) fn export_definitions(module: &kiln_runtime::Module) -> Vec<ExportDefinition> {
    module
        .exports()
        .map(|(name, ty)| ExportDefinition {
            name: name.to_string(),
            ty,
        })
        .collect()
}
