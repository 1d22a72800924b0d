//! Models whose layers use different tables (`rotor_preset_table_name`, `rotor_preset_layers`,
//! `rotor_preset_layer_table`).
//!
//! Gemma 3 and 4 alternate local and global attention layers with different RoPE configs,
//! Llama 4 Scout and Command R7B leave every fourth layer without rotary embedding. An engine
//! builds one [`Table`](crate::Table) per distinct name of [`tables`] and hands each layer the
//! table [`layers`] names (or none):
//!
//! ```
//! use std::collections::HashMap;
//! use rotor::{presets, Config, Table};
//!
//! let mut tables = HashMap::new();
//! for name in presets::tables("gemma-3-4b")? {
//!     tables.insert(name, Table::create(&Config::preset(name)?)?);
//! }
//! let layers = presets::layers("gemma-3-4b")?;
//! assert_eq!(layers.len(), 34);
//! assert_eq!(layers[5], Some("gemma-3-4b/global"));
//! let layer_0_table = layers[0].map(|name| &tables[name]);
//! assert!(layer_0_table.is_some());
//! assert_eq!(presets::layers("llama-4-scout")?[3], None); // no rotary embedding there
//! # Ok::<(), rotor::Error>(())
//! ```
//!
//! A single-table preset ("llama-3.1-8b") is a model too: its one table serves every layer,
//! whatever their number, so [`layer_count`] is 0 and [`layers`] is empty.
//!
//! Every name these functions and [`Config::preset`](crate::Config::preset) accept, aliases
//! included, is listed by [`presets()`](fn@crate::presets).
use std::ffi::CString;
use std::os::raw::c_char;
use std::ptr;

use rotor_sys as sys;

use crate::error::{check, invalid};
use crate::{static_str, Result};

fn c_name(model: &str) -> Result<CString> {
    CString::new(model).map_err(|_| invalid("the model name contains a NUL byte"))
}

/// The distinct tables `model` needs, names for [`Config::preset`](crate::Config::preset)
/// (a single-table preset gives its own name). `Error::InvalidArgument` for an unknown model.
pub fn tables(model: &str) -> Result<Vec<&'static str>> {
    let name = c_name(model)?;
    let mut names = Vec::new();
    // The C API has no count of tables: ask by index until it refuses. An unknown model is
    // refused at index 0, which is the error reported.
    loop {
        let mut out: *const c_char = ptr::null();
        // SAFETY: name is NUL-terminated and alive for the call; out is a valid out pointer.
        let status = unsafe { sys::rotor_preset_table_name(name.as_ptr(), names.len() as u32, &mut out) };
        if status != sys::ROTOR_OK {
            if names.is_empty() {
                check(status)?;
            }
            return Ok(names);
        }
        // The library's names are static storage, never NULL on success.
        names.push(static_str(out).ok_or(invalid("the library gave a table name that is not UTF-8"))?);
    }
}

/// The model's layer count; 0 for a single-table preset (its table serves any number of layers).
pub fn layer_count(model: &str) -> Result<u32> {
    let name = c_name(model)?;
    let mut layers = 0;
    // SAFETY: name is NUL-terminated and alive for the call; layers is a valid out pointer.
    check(unsafe { sys::rotor_preset_layers(name.as_ptr(), &mut layers) })?;
    Ok(layers)
}

/// The table of layer `layer` (0-based): `Some(name)` for [`Config::preset`](crate::Config::preset),
/// `None` for a layer without rotary embedding. `Error::InvalidArgument` for an unknown model
/// or a layer past [`layer_count`] (a single-table preset accepts any layer).
pub fn layer_table(model: &str, layer: u32) -> Result<Option<&'static str>> {
    let name = c_name(model)?;
    let mut out: *const c_char = ptr::null();
    // SAFETY: name is NUL-terminated and alive for the call; out is a valid out pointer.
    check(unsafe { sys::rotor_preset_layer_table(name.as_ptr(), layer, &mut out) })?;
    Ok(static_str(out)) // NULL: no rotary embedding on this layer
}

/// Every layer's table, in order ([`layer_table`] of 0 .. [`layer_count`]); empty for a
/// single-table preset, whose one table ([`tables`]) serves every layer.
pub fn layers(model: &str) -> Result<Vec<Option<&'static str>>> {
    (0..layer_count(model)?).map(|layer| layer_table(model, layer)).collect()
}
