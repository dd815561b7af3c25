// pgobo/databricks.hpp — includes every public header of pgobo::databricks:
// workspace tokens, Lakebase credentials, configuration profiles and the
// Databricks CLI's token, and a Databricks App's configuration.
#pragma once

#include "pgobo/databricks/config.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/profile.hpp"
#include "pgobo/databricks/workspace.hpp"
